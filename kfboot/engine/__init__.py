"""The phase engine: phase protocol, pure plan decisions, the DAG and its concurrent walk, the runner,
the state record and store protocol, the services phases share.

It knows no component and no Kubernetes type (it imports nothing of kfboot but errors): anything
that satisfies `Phase` can be installed, checked and undone. The cluster-backed store lives in
`kfboot.phases.state_store`, the Lease lock in `kfboot.k8s.lease`.
"""
