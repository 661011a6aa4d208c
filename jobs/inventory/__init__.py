"""Fleet inventory: read clusters (API or dumps) and turn their objects into ClusterFacts.

- :mod:`jobs.inventory.port`: the :class:`~jobs.inventory.port.ClusterReader` port, the
  :class:`~jobs.inventory.port.Snapshot` it returns and the ``InventoryError`` family;
- :mod:`jobs.inventory.resources`: what is read, and the read-only permissions that takes;
- :mod:`jobs.inventory.kube`: the adapter for the Kubernetes API (the only ``kubernetes`` import);
- :mod:`jobs.inventory.dumps`: the adapter for dump bundles and ``kubectl get -o json`` Lists;
- :mod:`jobs.inventory.mapping`: the one mapping from raw objects to ClusterFacts;
- :mod:`jobs.inventory.run`: reading a fleet concurrently, each cluster within its time budget;
- :mod:`jobs.inventory.report`: scan (inventory + match) and the JSON shapes of both.
"""
