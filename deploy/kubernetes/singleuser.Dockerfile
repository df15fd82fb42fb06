# The users' server image for deploy/kubernetes/values.yaml: JupyterLab with quanthub, whose
# Jupyter config and lab extension the servers read. Build from the repository's root:
#   docker build -f deploy/kubernetes/singleuser.Dockerfile -t registry.example/quantsite/singleuser:1 .
FROM quay.io/jupyter/base-notebook:python-3.11
USER root
COPY quanthub /opt/quanthub
COPY requirements-hub.txt /opt/requirements-hub.txt
RUN sed -i 's#^-e ./quanthub#/opt/quanthub#' /opt/requirements-hub.txt \
 && pip install --no-cache-dir -r /opt/requirements-hub.txt
USER ${NB_UID}
