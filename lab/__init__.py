"""A corporate network in a box for netcheck: real DNS, web, firewall and proxy daemons in
network namespaces, scenarios as data, and a demo (`python -m lab demo firewall`)."""
