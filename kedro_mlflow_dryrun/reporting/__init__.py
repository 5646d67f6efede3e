"""What the dry run found, for people (``dryrun/report.html``) and for CI (JUnit XML).

``report.py`` holds the data; these modules only present it: :mod:`.checks` says which
check passed, failed or did not run, :mod:`.html` and :mod:`.junit` render that.
"""
