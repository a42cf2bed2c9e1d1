"""Live collectors of the running lab for `lab exporter` (lab.report.live)."""
