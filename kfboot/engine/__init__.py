"""The phase engine: DAG runner, phase interface, plans, state record and cluster lock.

It knows no component: anything that satisfies `Phase` can be installed, checked and undone.
"""
