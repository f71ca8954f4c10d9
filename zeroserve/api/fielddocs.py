"""What ``kubectl explain`` says about each kind and field: the descriptions in the OpenAPI schemas.

Keyed by model class name (the type's own description) and ``Class.jsonField`` (a field's). Written
for users of the API, after Knative's and Kubernetes' API documentation; a field without an entry
is served without a description. PURE data.
"""

from __future__ import annotations

from typing import Final

API_VERSION: Final = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
KIND: Final = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this from "
    "the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
METADATA: Final = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
LIST_METADATA: Final = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)

_STATUS = {
    "observedGeneration": "The 'Generation' of the resource that was last processed by the controller.",
    "conditions": "The latest available observations of the resource's current state.",
    "annotations": "Additional Status fields for the resource to save some additional state as well as convey "
    "more information to the user (a map of string keys and values).",
}
_READY_NAMES = {
    "latestReadyRevisionName": "The name of the latest Revision stamped out from this Configuration that has had "
    'its "Ready" condition become "True".',
    "latestCreatedRevisionName": "The name of the last Revision stamped out from this Configuration. It might not "
    "be ready yet; look at latestReadyRevisionName for that.",
}
_TRAFFIC_STATUS = "The traffic this resource is currently routing: the targets with their percentages, the names of "
_TRAFFIC_STATUS += "the Revisions they resolve to, and the URLs of tagged targets."
_ADDRESS = "The address at which the resource can be reached from inside the cluster."
_URL = "The URL at which the resource is reachable from outside the cluster (http(s)://HOST)."


def _status(prefix: str, **more: str) -> dict[str, str]:
    return {f"{prefix}.{k}": v for k, v in {**_STATUS, **more}.items()}


DOCS: Final[dict[str, str]] = {
    # ---- serving.knative.dev/v1 ------------------------------------------------------------------
    "Service": "Service manages the whole lifecycle of a workload: it owns a Configuration (which stamps out a "
    "new Revision whenever its template changes) and a Route of the same name (which sends network traffic to "
    "the Revisions), and reflects their status as its own.",
    "ServiceSpec": "The desired state of the Service: the union of a Configuration's spec (template) and a "
    "Route's spec (traffic).",
    "ServiceSpec.template": "The specification of the Revision that the Service stamps out; every change to "
    "it creates a new Revision.",
    "ServiceSpec.traffic": "How traffic is split between Revisions. Defaults to 100% to the latest ready Revision.",
    "ServiceStatus": "The observed state of the Service.",
    **_status("ServiceStatus", **_READY_NAMES, url=_URL, address=_ADDRESS, traffic=_TRAFFIC_STATUS),
    "Configuration": 'Configuration is the "floating HEAD" of a linear history of Revisions: every change to its '
    "template stamps out a new Revision.",
    "ConfigurationSpec": "The desired state of the Configuration.",
    "ConfigurationSpec.template": "The specification of the Revisions stamped out from this Configuration.",
    "ConfigurationStatus": "The observed state of the Configuration.",
    **_status("ConfigurationStatus", **_READY_NAMES),
    "Revision": "Revision is an immutable snapshot of code and configuration: the containers it runs and how "
    "they are scaled. Revisions are created by updates to a Configuration.",
    "RevisionTemplateSpec": "The template from which Revisions are created: their metadata and spec.",
    "RevisionTemplateSpec.metadata": "Labels and annotations given to the Revisions stamped out (and "
    "optionally the name of the next one: {service}-{suffix}).",
    "RevisionTemplateSpec.spec": "The spec of the Revisions stamped out.",
    "RevisionSpec": "The desired state of a Revision: a Kubernetes PodSpec (the parts Knative allows) plus "
    "Knative's own fields.",
    "RevisionSpec.containers": "The containers of each instance. Exactly one of them listens for requests "
    "(the one with a port, or the only one); the others are sidecars.",
    "RevisionSpec.volumes": "Volumes the containers may mount (configMap, secret, projected, emptyDir).",
    "RevisionSpec.serviceAccountName": "The name of the ServiceAccount the instances run as.",
    "RevisionSpec.imagePullSecrets": "References to Secrets holding the credentials to pull the images.",
    "RevisionSpec.enableServiceLinks": "Whether information about services is injected into the containers' "
    "environment variables, as Docker links do.",
    "RevisionSpec.containerConcurrency": "The maximum number of requests in flight at once per instance. "
    "0 (the default) means no limit: the system picks the autoscaler's target.",
    "RevisionSpec.timeoutSeconds": "The maximum duration in seconds that a request may take to be answered.",
    "RevisionSpec.responseStartTimeoutSeconds": "The maximum duration in seconds that the instance may take to "
    "start answering a request.",
    "RevisionSpec.idleTimeoutSeconds": "The maximum duration in seconds a request may stay open without "
    "receiving any bytes from the instance.",
    "RevisionSpec.affinity": "Scheduling constraints (behind the kubernetes.podspec-affinity feature flag).",
    "RevisionSpec.automountServiceAccountToken": "Whether a service account token is mounted (only false is allowed).",
    "RevisionSpec.dnsConfig": "DNS parameters (behind kubernetes.podspec-dnsconfig).",
    "RevisionSpec.dnsPolicy": "The DNS policy (behind kubernetes.podspec-dnspolicy).",
    "RevisionSpec.hostAliases": "Extra /etc/hosts entries (behind kubernetes.podspec-hostaliases).",
    "RevisionSpec.hostIPC": "Use the host's IPC namespace (behind kubernetes.podspec-hostipc).",
    "RevisionSpec.hostNetwork": "Use the host's network namespace (behind kubernetes.podspec-hostnetwork).",
    "RevisionSpec.hostPID": "Use the host's PID namespace (behind kubernetes.podspec-hostpid).",
    "RevisionSpec.initContainers": "Containers run to completion, in order, before the others start "
    "(behind kubernetes.podspec-init-containers).",
    "RevisionSpec.nodeSelector": "Labels a node must have (behind kubernetes.podspec-nodeselector).",
    "RevisionSpec.priorityClassName": "The priority class (behind kubernetes.podspec-priorityclassname).",
    "RevisionSpec.runtimeClassName": "The runtime class (behind kubernetes.podspec-runtimeclassname).",
    "RevisionSpec.schedulerName": "The scheduler (behind kubernetes.podspec-schedulername).",
    "RevisionSpec.securityContext": "Pod-level security attributes (behind kubernetes.podspec-securitycontext; "
    "a seccompProfile with secure-pod-defaults).",
    "RevisionSpec.shareProcessNamespace": "Share one process namespace between the containers (behind "
    "kubernetes.podspec-shareprocessnamespace).",
    "RevisionSpec.tolerations": "Taints tolerated (behind kubernetes.podspec-tolerations).",
    "RevisionSpec.topologySpreadConstraints": "How instances spread across topology domains (behind "
    "kubernetes.podspec-topologyspreadconstraints).",
    "Container.terminationMessagePath": "The file the container's termination message is read from.",
    "RevisionStatus": "The observed state of the Revision.",
    **_status(
        "RevisionStatus",
        logUrl="A URL to the logs of the Revision's instances.",
        containerStatuses="The image digest each container's image resolved to when the Revision was created.",
        initContainerStatuses="The image digest each init container's image resolved to.",
        actualReplicas="The number of instances that are ready.",
        desiredReplicas="The number of instances the autoscaler wants.",
    ),
    "ContainerStatus": "The resolved image of one container.",
    "ContainerStatus.name": "The name of the container.",
    "ContainerStatus.imageDigest": "The image reference of the container, pinned to a digest.",
    "Route": "Route sends network traffic to Revisions, split by percentage, and gives named targets URLs of "
    "their own.",
    "RouteSpec": "The desired state of the Route.",
    "RouteSpec.traffic": "The targets traffic is split between, with their percentages (which add up to 100).",
    "RouteStatus": "The observed state of the Route.",
    **_status("RouteStatus", url=_URL, address=_ADDRESS, traffic=_TRAFFIC_STATUS),
    "TrafficTarget": "A share of the traffic: a Revision (named, or the latest ready one of a Configuration), "
    "its percentage and an optional tag.",
    "TrafficTarget.tag": "A name for this target, which then gets a URL of its own (tag-NAME.DOMAIN).",
    "TrafficTarget.revisionName": "The Revision that receives this share of the traffic.",
    "TrafficTarget.configurationName": "The Configuration whose latest ready Revision receives this share "
    "(not allowed in a Service, which names its own Configuration).",
    "TrafficTarget.latestRevision": "Whether this target follows the latest ready Revision. Must not be true "
    "when revisionName is set.",
    "TrafficTarget.percent": "The share of the traffic (0-100) this target receives.",
    "TrafficTarget.url": "The URL of a tagged target (set by the system in status).",
    "Addressable": "An address: the URL at which something can be reached.",
    "Addressable.url": "The URL.",
    "Addressable.name": "The name of the address.",
    "Addressable.CACerts": "The CA certificates (PEM) that sign the certificate served at the URL.",
    "Addressable.audience": "The OIDC audience of the address.",
    # ---- the PodSpec parts ----------------------------------------------------------------------
    "Container": "A single application container to run in each instance.",
    "Container.name": "The name of the container (a DNS label). Defaults to user-container.",
    "Container.image": "The container image name (a tag is resolved to a digest when the Revision is created).",
    "Container.command": "Entrypoint array, not run in a shell. The image's ENTRYPOINT is used if empty. "
    "$(VAR_NAME) references are expanded from the container's environment.",
    "Container.args": "Arguments to the entrypoint. The image's CMD is used if empty. $(VAR_NAME) references "
    "are expanded from the container's environment.",
    "Container.workingDir": "The container's working directory. The image's default is used if empty.",
    "Container.env": "Environment variables to set in the container.",
    "Container.envFrom": "Sources (ConfigMaps, Secrets) whose keys become environment variables.",
    "Container.ports": "The port the container listens on (at most one for the serving container). "
    "Defaults to 8080; the container is given it as $PORT.",
    "Container.resources": "Compute resources (cpu, memory) the container requires and is limited to.",
    "Container.readinessProbe": "How to tell that the container is ready to serve. Defaults to a TCP probe "
    "of its port.",
    "Container.livenessProbe": "How to tell that the container is alive; it is restarted when the probe fails.",
    "Container.startupProbe": "How to tell that the container has started; the other probes wait for it.",
    "Container.volumeMounts": "Volumes mounted into the container's filesystem.",
    "Container.securityContext": "Security options the container runs with (runAsUser, capabilities...).",
    "Container.imagePullPolicy": "Always, Never or IfNotPresent.",
    "Container.terminationMessagePolicy": "File or FallbackToLogsOnError.",
    "EnvVar": "An environment variable of a container.",
    "EnvVar.name": "The name of the variable.",
    "EnvVar.value": "The value; $(VAR_NAME) references to variables defined before it are expanded.",
    "EnvVar.valueFrom": "A source of the value: a key of a ConfigMap or Secret, or a field of the instance.",
    "ContainerPort": "A network port of a container.",
    "ContainerPort.name": "The protocol the port speaks: http1 (the default) or h2c.",
    "ContainerPort.containerPort": "The port number the container listens on.",
    "ContainerPort.protocol": "TCP (the default).",
    "ContainerPort.hostPort": "Not allowed.",
    "ContainerPort.hostIP": "Not allowed.",
    "ResourceRequirements": "Compute resource requirements.",
    "ResourceRequirements.limits": "The maximum amount of each resource (cpu, memory) the container may use.",
    "ResourceRequirements.requests": "The amount of each resource (cpu, memory) the container is guaranteed.",
    "Probe": "A health check of a container: one handler and its timing.",
    "Probe.httpGet": "An HTTP GET request; a status from 200 to 399 is a success.",
    "Probe.tcpSocket": "A TCP connection to a port; connecting is a success.",
    "Probe.exec": "A command run in the container; exit status 0 is a success.",
    "Probe.grpc": "A gRPC health check request.",
    "Probe.initialDelaySeconds": "Seconds after the container has started before the probe starts.",
    "Probe.timeoutSeconds": "Seconds after which one probe times out. Defaults to 1.",
    "Probe.periodSeconds": "How often (in seconds) to probe. 0 for the readiness probe means Knative's "
    "aggressive probing until the container is ready.",
    "Probe.successThreshold": "Consecutive successes after a failure for the probe to be a success.",
    "Probe.failureThreshold": "Consecutive failures after a success for the probe to be a failure.",
    "HTTPGetAction": "An HTTP GET probe.",
    "HTTPGetAction.path": "The path to request.",
    "HTTPGetAction.port": "The port (number or name) to connect to. Defaults to the container's port.",
    "HTTPGetAction.host": "The host name to connect to. Defaults to the instance's address.",
    "HTTPGetAction.scheme": "HTTP (the default) or HTTPS.",
    "HTTPGetAction.httpHeaders": "Headers to send with the request.",
    "HTTPHeader": "An HTTP header.",
    "HTTPHeader.name": "The header field name.",
    "HTTPHeader.value": "The header field value.",
    "TCPSocketAction": "A TCP connection probe.",
    "TCPSocketAction.port": "The port (number or name) to connect to. Defaults to the container's port.",
    "TCPSocketAction.host": "The host name to connect to. Defaults to the instance's address.",
    # ---- metadata and conditions ---------------------------------------------------------------
    "ObjectMeta": "Metadata of an object: name, namespace, labels and annotations.",
    "ObjectMeta.name": "The name, unique within a namespace (and kind).",
    "ObjectMeta.generateName": "A prefix from which the server generates a unique name when name is not set.",
    "ObjectMeta.namespace": "The namespace the object lives in.",
    "ObjectMeta.labels": "Map of string keys and values that can be used to organize and select objects.",
    "ObjectMeta.annotations": "Map of string keys and values that tools store with the object.",
    "ObjectMeta.finalizers": "Must be empty before the object is deleted from the registry.",
    "Condition": "One aspect of the current state of a resource.",
    "Condition.type": "The type of the condition (Ready, ConfigurationsReady, RoutesReady...).",
    "Condition.status": "True, False or Unknown.",
    "Condition.severity": "How to interpret a False status: Error (the default, empty) or Warning or Info.",
    "Condition.lastTransitionTime": "The last time the condition changed from one status to another.",
    "Condition.reason": "The reason for the condition's last transition, in CamelCase.",
    "Condition.message": "A human readable message about the last transition.",
    "OwnerReference": "An object this one depends on (and is deleted with).",
    # ---- serving.knative.dev/v1beta1 and the internal kinds ------------------------------------
    "DomainMapping": "DomainMapping maps a custom domain name to an Addressable (a Knative Service by default).",
    "DomainMappingSpec": "The desired state of the DomainMapping.",
    "DomainMappingSpec.ref": "The Addressable the domain name (the DomainMapping's name) maps to.",
    "DomainMappingSpec.tls": "The Secret holding the TLS certificate and key served for the domain name.",
    "DomainMappingStatus": "The observed state of the DomainMapping.",
    **_status("DomainMappingStatus", url="The URL of the mapped domain.", address=_ADDRESS),
    "KReference": "A reference to a Kubernetes object by kind, apiVersion, namespace and name.",
    "KReference.kind": "The kind of the referent.",
    "KReference.namespace": "The namespace of the referent (defaults to the referrer's).",
    "KReference.name": "The name of the referent.",
    "KReference.apiVersion": "The API version of the referent.",
    "KReference.group": "The API group of the referent (instead of apiVersion, when a feature flag allows).",
    "KReference.address": "The name of one of the referent's addresses.",
    "SecretTLS": "A TLS certificate kept in a Secret.",
    "SecretTLS.secretName": "The name of a Secret (of type kubernetes.io/tls) in the DomainMapping's namespace.",
    "ClusterDomainClaim": "ClusterDomainClaim gives one namespace the right to map a domain name "
    "(the claim's name) with DomainMappings.",
    "ClusterDomainClaimSpec": "The desired state of the ClusterDomainClaim.",
    "ClusterDomainClaimSpec.namespace": "The namespace allowed to create DomainMappings for this domain name.",
    "PodAutoscaler": "PodAutoscaler scales a Revision's instances from the requests they receive "
    "(internal: created by the Revision).",
    "PodAutoscalerSpec": "The desired state of the PodAutoscaler.",
    "PodAutoscalerSpec.scaleTargetRef": "The workload being scaled.",
    "PodAutoscalerSpec.containerConcurrency": "The Revision's containerConcurrency.",
    "PodAutoscalerSpec.reachability": "Whether the Revision is reachable by traffic (Reachable, Unreachable "
    "or unknown).",
    "PodAutoscalerSpec.protocolType": "The protocol the Revision speaks (http1 or h2c).",
    "PodAutoscalerStatus": "The observed state of the PodAutoscaler.",
    **_status(
        "PodAutoscalerStatus",
        serviceName="The name of the service that reaches the instances.",
        metricsServiceName="The name of the service the instances' metrics are scraped through.",
        desiredScale="The number of instances the autoscaler wants.",
        actualScale="The number of instances that are ready.",
        appliedScale="The number of instances last asked for.",
    ),
    "ObjectReference": "A reference to an object by apiVersion, kind and name.",
    "ServerlessService": "ServerlessService decides whether a Revision's traffic goes through the activator "
    "(Proxy) or straight to its instances (Serve) (internal: created by the PodAutoscaler).",
    "ServerlessServiceSpec": "The desired state of the ServerlessService.",
    "ServerlessServiceSpec.mode": "Serve (traffic to the instances) or Proxy (through the activator).",
    "ServerlessServiceSpec.numActivators": "How many activators are in the path in Proxy mode.",
    "ServerlessServiceSpec.objectRef": "The workload whose instances are served.",
    "ServerlessServiceSpec.protocolType": "The protocol the Revision speaks (http1 or h2c).",
    "ServerlessServiceStatus": "The observed state of the ServerlessService.",
    **_status(
        "ServerlessServiceStatus",
        serviceName="The name of the service traffic is sent to.",
        privateServiceName="The name of the service that always reaches the instances.",
    ),
    # ---- eventing.knative.dev/v1 -----------------------------------------------------------------
    "Broker": "Broker collects a pool of events that are consumable using Triggers.",
    "BrokerSpec": "The desired state of the Broker.",
    "BrokerSpec.config": "A reference to the configuration of the Broker's class.",
    "BrokerSpec.delivery": "How events are delivered to the Triggers' subscribers (retries, dead letter sink).",
    "BrokerStatus": "The observed state of the Broker.",
    "Trigger": "Trigger delivers the events of a Broker that pass its filters to a subscriber.",
    "TriggerSpec": "The desired state of the Trigger.",
    "TriggerSpec.broker": "The name of the Broker the Trigger receives events from.",
    "TriggerSpec.filter": "Exact matches on event attributes.",
    "TriggerSpec.filters": "Subscriptions API filters (exact, prefix, suffix, all, any, not); when set, "
    "filter is ignored.",
    "TriggerSpec.subscriber": "Where the events that pass the filters are delivered.",
    "TriggerSpec.delivery": "How events are delivered to the subscriber; replaces the Broker's.",
    "TriggerStatus": "The observed state of the Trigger.",
    "DeliverySpec": "How events are delivered: retries, back-off, timeout and a dead letter sink.",
    "Destination": "Where events are sent: a reference to an Addressable, a URI, or a URI relative to it.",
    "ApiServerSource": "ApiServerSource sends a CloudEvent for each add, update and delete of the resources "
    "it watches.",
    "ApiServerSourceSpec": "The desired state of the ApiServerSource.",
    "ApiServerSourceSpec.sink": "Where the events are sent.",
    "ApiServerSourceSpec.ceOverrides": "CloudEvent extensions set on every event sent.",
    "ApiServerSourceSpec.resources": "The resources (apiVersion, kind, optional label selector) to watch.",
    "ApiServerSourceSpec.owner": "Only resources whose controller owner has this apiVersion and kind.",
    "ApiServerSourceSpec.mode": "Reference (the event carries an object reference) or Resource (the whole object).",
    "ApiServerSourceSpec.serviceAccountName": "Accepted for compatibility; zeroserve has no RBAC to enforce it.",
    "ApiServerSourceSpec.namespaceSelector": "The namespaces to watch (absent: the source's own; empty: all).",
    "ApiServerSourceStatus": "The observed state of the ApiServerSource.",
    "EventType": "EventType records a type of event that flows to a Broker or another destination.",
    "EventTypeSpec": "The desired state of the EventType.",
    "EventTypeSpec.type": "The CloudEvent type.",
    "EventTypeSpec.source": "The CloudEvent source.",
    "EventTypeSpec.reference": "Where events of this type flow (a Broker, a Service...).",
    "EventTypeSpec.description": "What the event type is about.",
    "EventTypeStatus": "The observed state of the EventType.",
    # ---- messaging.knative.dev/v1, flows.knative.dev/v1 -------------------------------------------
    "Channel": "Channel is an Addressable that forwards the events it receives to its Subscriptions; it is "
    "backed by a channel of the kind in spec.channelTemplate.",
    "ChannelSpec.channelTemplate": "The kind (apiVersion, kind) and spec of the backing channel; defaulted "
    "from default-ch-webhook.",
    "InMemoryChannel": "InMemoryChannel forwards events to its subscribers (durable in zeroserve: on the "
    "eventing log).",
    "Subscription": "Subscription routes the events of a channel to a subscriber, and its replies to a reply "
    "destination.",
    "SubscriptionSpec.channel": "The channel the Subscription receives events from (immutable).",
    "SubscriptionSpec.subscriber": "Where each event is delivered.",
    "SubscriptionSpec.reply": "Where the subscriber's reply events are sent.",
    "SubscriptionSpec.delivery": "Retries, back-off and dead letter sink of the deliveries.",
    "Sequence": "Sequence sends an event through its steps in order, each step's reply feeding the next.",
    "SequenceSpec.steps": "The destinations the event goes through, in order.",
    "SequenceSpec.channelTemplate": "The kind of channel to make between the steps.",
    "SequenceSpec.reply": "Where the last step's reply goes.",
    "Parallel": "Parallel sends each event to all branches whose filter passes it.",
    "ParallelSpec.branches": "Each branch: an optional filter, a subscriber and an optional reply.",
    "ParallelSpec.channelTemplate": "The kind of channel to make for the ingress and each branch.",
    "ParallelSpec.reply": "Where the branches' replies go (unless a branch has its own).",
    # ---- core v1 -----------------------------------------------------------------------------------
    "ConfigMap": "ConfigMap holds configuration data for workloads to consume.",
    "ConfigMap.immutable": "If true, the data cannot be changed (the ConfigMap can only be deleted and recreated).",
    "ConfigMap.data": "The configuration data (UTF-8 strings) by key.",
    "ConfigMap.binaryData": "Binary configuration data (base64 in JSON) by key; keys must not overlap data's.",
    "Secret": "Secret holds secret data of a certain type. The values are base64 in data.",
    "Secret.immutable": "If true, the data cannot be changed (the Secret can only be deleted and recreated).",
    "Secret.data": "The secret data by key, each value base64-encoded.",
    "Secret.stringData": "Write-only: values given as plain strings, merged into data on write.",
    "Secret.type": "Used to facilitate programmatic handling of secret data (Opaque, kubernetes.io/tls...).",
    "Namespace": "Namespace provides a scope for names.",
    "NamespaceSpec": "The desired state of the Namespace.",
    "NamespaceSpec.finalizers": "Must be empty before the Namespace is removed from storage.",
    "NamespaceStatus": "The observed state of the Namespace.",
    "NamespaceStatus.phase": "Active or Terminating.",
    "NamespaceStatus.conditions": "The latest available observations of the Namespace's state.",
    "Event": "Event is a report of an event somewhere in the cluster (here: what a controller did or could not do "
    "to an object). Events are kept for an hour after they were last seen; treat them as informative, "
    "best-effort data.",
    "Event.involvedObject": "The object that this event is about.",
    "Event.reason": "This should be a short, machine understandable string that gives the reason for the transition "
    "into the object's current status.",
    "Event.message": "A human-readable description of the status of this operation.",
    "Event.source": "The component reporting this event. Should be a short machine understandable string.",
    "Event.firstTimestamp": "The time at which the event was first recorded.",
    "Event.lastTimestamp": "The time at which the most recent occurrence of this event was recorded.",
    "Event.count": "The number of times this event has occurred.",
    "Event.type": "Type of this event (Normal, Warning), new types could be added in the future.",
    "Event.eventTime": "Time when this Event was first observed.",
    "Event.series": "Data about the Event series this event represents or nil if it's a singleton Event.",
    "Event.action": "What action was taken/failed regarding to the Regarding object.",
    "Event.related": "Optional secondary object for more complex actions.",
    "Event.reportingComponent": "Name of the controller that emitted this Event, e.g. `kubernetes.io/kubelet`.",
    "Event.reportingInstance": "ID of the controller instance, e.g. `kubelet-xyzf`.",
    "ObjectReference.kind": "Kind of the referent.",
    "ObjectReference.namespace": "Namespace of the referent.",
    "ObjectReference.name": "Name of the referent.",
    "ObjectReference.uid": "UID of the referent.",
    "ObjectReference.apiVersion": "API version of the referent.",
    "ObjectReference.resourceVersion": "Specific resourceVersion to which this reference is made, if any.",
    "ObjectReference.fieldPath": "If referring to a piece of an object instead of an entire object, a field access "
    'statement such as "spec.containers{name}".',
    "EventSource": "EventSource contains information for an event.",
    "EventSource.component": "Component from which the event is generated.",
    "EventSource.host": "Node name on which the event is generated.",
    "EventSeries": "EventSeries contain information on series of events, i.e. thing that was/is happening "
    "continuously for some time.",
    "EventSeries.count": "Number of occurrences in this series up to the last heartbeat time.",
    "EventSeries.lastObservedTime": "Time of the last occurrence observed.",
}
"""Descriptions by ``Class`` and ``Class.jsonField``."""
