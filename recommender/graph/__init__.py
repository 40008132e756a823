"""Pictures of a proposal or a replay as SVG, written by our own small emitter: the output
is deterministic (byte-identical for the same flows in any order), needs no dependency and
stays linear in the number of workloads.

- :mod:`.model`: nodes and edges from the replayed and at-risk tables;
- :mod:`.layout`: namespaces packed in rows, workloads in a grid inside, curved edges;
- :mod:`.svg`: the document, every name from a log escaped;
- :mod:`.pictures`: the proposal's picture and the replay's.
"""
