"""A fact's route graph at a revision, as stored (table ``routes``): a networkx DiGraph for the Python API and
GraphML for the CLI (:mod:`trajectory.routes.graph`), and the data of the routes page."""
