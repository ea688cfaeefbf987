"""Write operations of the core. Modules by area; import from the module that owns the service."""
