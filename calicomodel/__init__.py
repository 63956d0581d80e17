"""The projectcalico.org/v3 model, shared by the apiserver and ``ctl``: the kinds (catalog,
strategies), their schemas, defaults and validation, and where libcalico-go keeps each object
in etcd (``layout``, ``stored``, ``ipam``). Pure: no server, no I/O but reading the schemas,
so ``ctl validate`` gives the server's verdict without one."""
