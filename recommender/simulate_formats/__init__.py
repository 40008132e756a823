"""Renderers of the simulated traffic (:mod:`recommender.simulate`) in other flow-log formats.

Each module renders the same connections that :func:`recommender.simulate.hubble_records`
renders for a given cluster and seed, so a recommendation made from any of them can be compared
with the one made from the Hubble rendering.
"""
