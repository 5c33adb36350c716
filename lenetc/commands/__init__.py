"""Sub-commands of the lenetc CLI, one module per group."""
