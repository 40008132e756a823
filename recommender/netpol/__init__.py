"""One compiled policy model, its evaluator and breadth.

* :mod:`~recommender.netpol.model`: the immutable types every dialect compiles into
  (selectors, peers, port matches, rules with actions, policies with tiers), and endpoints.
* :mod:`~recommender.netpol.networkpolicy`: the ``networking.k8s.io/v1`` reader.
* :mod:`~recommender.netpol.evaluator`: explained verdicts on single connections.
* :mod:`~recommender.netpol.breadth`: what the policies allow beyond what was observed,
  counted over pod classes (:mod:`~recommender.netpol.classes`,
  :mod:`~recommender.netpol.class_space`, :mod:`~recommender.netpol.breadth_count`).
* :mod:`~recommender.netpol.endpoints`, :mod:`~recommender.netpol.ipranges`,
  :mod:`~recommender.netpol.bitsets`: pods-table endpoints, address ranges, port bit sets.
"""
