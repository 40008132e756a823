"""netpol-recommender: observed flow logs in, proven least-privilege NetworkPolicies out."""

__version__ = "0.1.0"
