{{/*
The agent's RBAC, for every cluster it runs in: the one source of these rules. The chart
renders it (rbac.yaml), and deploy/spoke-rbac.yaml is its rendering for installs without
Helm; tests/spoke/test_rbac.py records the requests the code makes and fails on a rule that
is missing or that nothing uses, and tests/charts/ on a deploy/ file that differs.
Called with a dict: namespace (the agent's), labels (a YAML string).

cclm-spoke: the agent's own identity in its cluster. It collects (read-only, cluster-wide),
runs the source side of the migrations leaving this cluster, and mints for a migration
arriving here the credential the source's agent then uses (spoke_agent/access/target_tokens.py).
cclm-migration-target: what that credential may do, only in the namespaces of the
migration's VMs: the target side of spoke_agent/drivers/kubernetes.py.
*/}}
{{- define "cclm-spoke.rbac" }}
apiVersion: v1
kind: ServiceAccount
metadata:
  labels:
    {{- .labels | nindent 4 }}
  name: cclm-spoke
  namespace: {{ .namespace }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  labels:
    {{- .labels | nindent 4 }}
  name: cclm-spoke
rules:
  # Collection (spoke_agent/report/kube_source.py, RULES): lists and watches across the cluster.
  - apiGroups: [""]
    resources: [nodes, pods, persistentvolumeclaims, resourcequotas]
    verbs: [get, list, watch]
  - apiGroups: [storage.k8s.io]
    resources: [storageclasses, csistoragecapacities]
    verbs: [get, list, watch]
  - apiGroups: [kubevirt.io]
    resources: [kubevirts, virtualmachines, virtualmachineinstances]
    verbs: [get, list, watch]
  - apiGroups: [cdi.kubevirt.io]
    resources: [datavolumes, cdis, cdiconfigs, storageprofiles]
    verbs: [get, list, watch]
  - apiGroups: [instancetype.kubevirt.io]
    resources:
      - virtualmachineinstancetypes
      - virtualmachineclusterinstancetypes
      - virtualmachinepreferences
      - virtualmachineclusterpreferences
    verbs: [get, list, watch]
  # ...the revisions of instancetypes and preferences that VMs run with (listed by KubeVirt's
  # label instancetype.kubevirt.io/object-kind)...
  - apiGroups: [apps]
    resources: [controllerrevisions]
    verbs: [get, list, watch]
  - apiGroups: [node.k8s.io]
    resources: [runtimeclasses]
    verbs: [get, list, watch]
  - apiGroups: [k8s.cni.cncf.io]
    resources: [network-attachment-definitions]
    verbs: [get, list, watch]
  # Source side of a migration (reads of the VM and its claims are in collection's rules):
  # the VM is marked as migrated and halted, or deleted, once the target runs it...
  - apiGroups: [kubevirt.io]
    resources: [virtualmachines]
    verbs: [patch, delete]
  # ...the sending migration object of each attempt...
  - apiGroups: [kubevirt.io]
    resources: [virtualmachineinstancemigrations]
    verbs: [list, create, delete]
  # ...and the rsync client pods of an offline copy. These run as their namespace's default
  # ServiceAccount: patching its own pod's progress annotation takes that one's rights, not
  # these (and this file grants none).
  - apiGroups: [""]
    resources: [pods]
    verbs: [create, delete]
  # Minting: the grant's RoleBindings, in whichever namespaces the migrating VMs live in,
  # found again by label across the cluster when revoked. RoleBindings cannot be limited by
  # label: this identity can delete any of them, and bind cclm-migration-target to anyone.
  - apiGroups: [rbac.authorization.k8s.io]
    resources: [rolebindings]
    verbs: [get, list, create, delete]
  # Creating a RoleBinding to a ClusterRole takes either every right in it or `bind` on it.
  - apiGroups: [rbac.authorization.k8s.io]
    resources: [clusterroles]
    verbs: [bind]
    resourceNames: [cclm-migration-target]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  labels:
    {{- .labels | nindent 4 }}
  name: cclm-spoke
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cclm-spoke
subjects:
  - kind: ServiceAccount
    name: cclm-spoke
    namespace: {{ .namespace }}
---
# Minting: the grants' ServiceAccounts and their tokens, only in the agent's own namespace.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  labels:
    {{- .labels | nindent 4 }}
  name: cclm-spoke-grants
  namespace: {{ .namespace }}
rules:
  - apiGroups: [""]
    resources: [serviceaccounts]
    verbs: [get, list, create, delete]
  - apiGroups: [""]
    resources: [serviceaccounts/token]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  labels:
    {{- .labels | nindent 4 }}
  name: cclm-spoke-grants
  namespace: {{ .namespace }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: cclm-spoke-grants
subjects:
  - kind: ServiceAccount
    name: cclm-spoke
    namespace: {{ .namespace }}
---
# What a migration's minted credential may do, bound by the grant's RoleBindings in the
# namespaces of its VMs only. Nothing on secrets, ServiceAccounts or RBAC: the credential
# cannot widen itself or outlive its grant.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  labels:
    {{- .labels | nindent 4 }}
  name: cclm-migration-target
rules:
  # The receiving VM (WaitAsReceiver), finalized to its run strategy; removed on failure.
  - apiGroups: [kubevirt.io]
    resources: [virtualmachines]
    verbs: [get, create, patch, delete]
  # The receiving migration object of each attempt.
  - apiGroups: [kubevirt.io]
    resources: [virtualmachineinstancemigrations]
    verbs: [list, create, delete]
  # The blank volumes the disks arrive in; removed on failure.
  - apiGroups: [cdi.kubevirt.io]
    resources: [datavolumes]
    verbs: [get, list, create, delete]
  # The instancetype and preference revisions the VM runs with, copied from the source
  # before the VM; owned by the VM once it is final; removed on failure.
  - apiGroups: [apps]
    resources: [controllerrevisions]
    verbs: [get, list, create, patch, delete]
  # The rsync server pods of an offline copy (listed, with the receiver's virt-launcher, to
  # observe them) and their Services.
  - apiGroups: [""]
    resources: [pods]
    verbs: [list, create, delete]
  - apiGroups: [""]
    resources: [services]
    verbs: [create, delete]
{{- end }}
