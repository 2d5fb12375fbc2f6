"""strata_cinder -- Strata blockd as a Cinder volume backend (see docs/cinder.md)."""
