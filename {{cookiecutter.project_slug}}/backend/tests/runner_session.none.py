"""The run as a whole, for the in-process runner: nothing to start (jobs run in the app's own
process), and `-n auto` keeps pytest-xdist's default of one test process per core (one more measured
no faster: these tests mostly compute).
"""
