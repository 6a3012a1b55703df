"""Runners for external reference models that ``simulacra bench`` scores beside its own (see
:data:`simulacra.modalities.benchmarking.EXTERNAL`). Each runner is a script run by the reference model's own Python
(its own virtual environment), never imported here: the reference's dependencies are not simulacra's.
"""
