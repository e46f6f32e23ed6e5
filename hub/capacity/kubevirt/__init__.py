"""KubeVirt's own rules for the virt-launcher pod, release by release: how a VirtualMachine
with its instancetype and preference becomes a VirtualMachineInstance, which defaults the
webhook fills in, the memory overhead, the compute container's requests and limits, the
other containers of the pod, and the node the pod may land on.

Each rule names the KubeVirt source it comes from and the release that introduced it, so
a check sizes a VM by the release the target runs, not by the newest or the source's.
"""
