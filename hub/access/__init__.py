"""Who may do what: tokens, and the target access grants of migrations."""
