# The hub image for deploy/kubernetes/values.yaml: the chart's own hub image (its
# jupyterhub_config.py reads the Helm values) with quanthub and the hub's pinned
# dependencies (requirements-hub.txt). Build from the repository's root:
#   docker build -f deploy/kubernetes/hub.Dockerfile -t registry.example/quantsite/hub:1 .
FROM quay.io/jupyterhub/k8s-hub:4.3.5
USER root
COPY quanthub /opt/quanthub
COPY requirements-hub.txt /opt/requirements-hub.txt
RUN sed -i 's#^-e ./quanthub#/opt/quanthub#' /opt/requirements-hub.txt \
 && pip install --no-cache-dir -r /opt/requirements-hub.txt
USER ${NB_USER:-jovyan}
