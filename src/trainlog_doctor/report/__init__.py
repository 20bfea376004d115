"""The renderers: one module per output format (listed in :mod:`trainlog_doctor.report.formats`), the chart
geometry and templates of the HTML pages, and the audit index page."""
