"""Write operations of the portal side, one module per area."""
