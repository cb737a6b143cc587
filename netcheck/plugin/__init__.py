"""netcheck's pytest side. `hooks` is the plugin pytest loads (entry point `netcheck`);
`settings` reads the options, `keys` holds the session state; `recorder`, `report`,
`sites` and `distribute` are registered by `hooks` when a run needs them."""
