"""Eventing (~ knative/eventing): the Broker's ingress, its durable event log and the dispatcher.

``base.py`` holds the seams between them (the ``EventLog`` the ingress appends to), ``ingress.py``
the HTTP ingress (Knative's ``pkg/broker/ingress``), ``log.py`` the durable log and ``dispatch.py``
delivery to the Triggers' subscribers.
"""
