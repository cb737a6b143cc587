"""netcheck: network reachability checks for Microsoft 365 Apps activation."""
