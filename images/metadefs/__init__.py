"""The metadata definitions catalog: the data files of the common namespaces and their format."""
