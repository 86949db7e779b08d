"""Typer command groups, one module per group; each imports its heavy dependencies lazily."""
