"""Federation between clusters (DESIGN §7): NetworkSets and GlobalNetworkSets, and endpoints
mirrored as network sets, pulled from peers that export them.

    service.py  what create_app wires in: leader election around the manager, readiness, metrics
    leader.py   etcd lease election: one replica per cluster runs the syncers
    manager.py  RemoteClusterConfiguration objects → running syncers; RCC status
    spec.py     an RCC read into a PeerSpec; its admission (name, allowedNets); quota defaults
    remote.py   RemoteCluster: what one peer's syncers share (client, identity, export, quota)
    syncer.py   PeerSyncer: one per (peer, kind): list, watch, mirror into a sink; SyncerStatus
    peer.py     PeerClient: the HTTP client of one peer, with deadlines and size caps
    credentials.py  RCC file fields confined to --federation-credentials-dir; safe readers
    copies.py   how a peer object becomes a local copy, and the one writer of copies
    endpoints.py  endpoints as network sets: their copies, the peer's profiles (labels)
    ownership.py  admission: copies are the controller's, and hidden from peers
    export.py   admission: FederationExport rules, what each peer identity may read
    metrics.py  Prometheus collector over the syncers' statuses
"""
