"""SSNR Explorer's app layer: session state, cached loaders, widgets, charts and panels.

No science here: every number the pages show comes from `ssnr_core`; this package only
reads it, caches it for the session and lays it out.
"""
