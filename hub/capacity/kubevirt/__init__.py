"""KubeVirt's own rules for the virt-launcher pod, release by release: how a VirtualMachine
with its instancetype and preference becomes a VirtualMachineInstance, which defaults the
webhook fills in, the memory overhead, the compute container's requests and limits, the
other containers of the pod, and the node the pod may land on.

Each rule names the KubeVirt source it comes from and the release that introduced it, so
a check sizes a VM by the release the target runs, not by the newest or the source's.

Where the releases differ in ways summaries of these rules tend to get wrong (each read at
the tags themselves):
- `GetMemoryOverhead` is in `pkg/virt-controller/services/renderresources.go` up to v1.7.4
  and in `pkg/hypervisor/kvm/hypervisorbackend.go` from v1.8.0.
- The webhook stopped setting the VMI's memory request in v1.6.4 (a backport of v1.7.0), so
  page tables are paid only on a request the VM sets itself from v1.6.4 on, not from v1.7.
  v1.6.2 alone set the request to the guest and overcommitted any request at render time.
- The 100Mi of dedicated or Guaranteed VMs was added after the overhead ratio up to v1.5.2
  and is multiplied with the rest from v1.5.3.
- IOThread supplemental pool threads count in the CPU request from v1.5.2 (whatever the
  `ioThreadsPolicy`); up to v1.5.1 they only raised the CPU limit.
- The emulator-thread even-parity annotation of the KubeVirt CR reaches the VMI only with
  the AlignCPUs feature gate (`vmi-mutator.go`).
- The machine-type node selector exists from v1.5.1. Dedicated CPUs need the node label
  `cpumanager=true` up to v1.7.4 and `kubevirt.io/cpumanager=true` from v1.8.0.
- A migration target requires the source's CPU vendor from v1.8.0, v1.7.1 and v1.6.4; not in
  v1.7.0.
- TDX asks for the `devices.kubevirt.io/tdx` device from v1.9.0.
- Beta feature gates are on by default only from v1.9.0 (ImageVolume, GPUsWithDRA,
  HostDevicesWithDRA, VmiMemoryOverheadReport among them); up to v1.8.4 a gate is on only when
  GA or listed.
- CDI's minimum PVC size is the StorageProfile annotation
  `cdi.kubevirt.io/minimumSupportedPvcSize`, from CDI v1.63.0.
"""
