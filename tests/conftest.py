# tests/extensions/ runs under the patched interpreter (scripts/test), not here.
collect_ignore = ["extensions"]
