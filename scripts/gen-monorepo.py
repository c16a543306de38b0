#!/usr/bin/env python3
"""Writes a synthetic GitOps monorepo for the `modelbump targets` benchmark.

usage: gen-monorepo.py DIR [FILES] [MODEL_PERCENT]

FILES YAML files (default 10000) in team/app folders, MODEL_PERCENT of them (default 2) model manifests
(Seldon Model, SeldonDeployment, KServe InferenceService, some multi-document), the rest the usual
Deployments, Services, ConfigMaps, kustomizations and Argo CD Applications, with comments. Deterministic
(fixed seed), so that runs compare.
"""
import os
import random
import sys

root = sys.argv[1]
files = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
percent = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
rng = random.Random(42)

DEPLOYMENT = """# {app}: the {team} team's service
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {team}
  labels:
    app.kubernetes.io/name: {app}
    app.kubernetes.io/part-of: {team}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {app}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      containers:
        - name: {app}
          image: "registry.example.com/{team}/{app}:{version}"
          ports:
            - containerPort: 8080
          env:
{env}          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: "1", memory: 512Mi}}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: {team}
spec:
  selector:
    app: {app}
  ports:
    - port: 80
      targetPort: 8080 # the container port
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {app}-config
  namespace: {team}
data:
{data}"""
KUSTOMIZATION = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {team}
resources:
  - deployment.yaml
  - service.yaml
commonLabels:
  team: {team}
"""
APPLICATION = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {app}
  namespace: argocd
spec:
  project: {team}
  source:
    repoURL: https://git.example.com/platform/gitops.git
    targetRevision: main
    path: apps/{team}/{app}
  destination:
    server: https://kubernetes.default.svc
    namespace: {team}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
"""
MODEL = """---
# model of {app}, updated by the training pipeline
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: {app}-{variant}
  namespace: {team}
spec:
  storageUri: s3://mlflow-artifacts/{exp}/models/m-{id}/artifacts/
  requirements:
  - mlflow
  server: mlserver
"""
SDEP = """apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: {app}
  namespace: {team}
spec:
  predictors:
  - name: main
    replicas: 2
    graph:
      name: router
      implementation: MLFLOW_SERVER
      modelUri: "gs://models/{team}/{app}/router/{id}"
      children:
      - name: classifier
        implementation: MLFLOW_SERVER
        modelUri: 'gs://models/{team}/{app}/classifier/{id}'  # pinned
        children: []
"""
ISVC = """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {app}
  namespace: {team}
  annotations:
    serving.kserve.io/deploymentMode: "RawDeployment"
spec:
  predictor:
    model:
      modelFormat:
        name: mlflow
      storageUri: "s3://mlflow-artifacts/{exp}/models/m-{id}/artifacts/"
"""


def hexid():
    return "%032x" % rng.getrandbits(128)


def ordinary(team, app, kind):
    if kind == 0:
        env = "".join(
            f"            - name: VAR_{i}\n              value: \"{rng.choice(['on', 'off', '42', 'text with spaces'])}\"\n"
            for i in range(rng.randint(1, 12))
        )
        return DEPLOYMENT.format(team=team, app=app, replicas=rng.randint(1, 5), version=f"1.{rng.randint(0, 40)}.0", env=env)
    if kind == 1:
        return SERVICE.format(team=team, app=app)
    if kind == 2:
        data = "".join(f"  key_{i}: \"value {i} for {app}\"\n" for i in range(rng.randint(2, 40)))
        return CONFIGMAP.format(team=team, app=app, data=data)
    if kind == 3:
        return KUSTOMIZATION.format(team=team)
    return APPLICATION.format(team=team, app=app)


def model(team, app):
    kind = rng.randint(0, 2)
    if kind == 0:
        docs = [MODEL.format(team=team, app=app, variant=v, exp=rng.randint(1, 60), id=hexid()) for v in ("baseline", "candidate")]
        return "".join(docs) + "---\n" + SERVICE.format(team=team, app=app)
    if kind == 1:
        return SDEP.format(team=team, app=app, id=hexid())
    return ISVC.format(team=team, app=app, exp=rng.randint(1, 60), id=hexid())


models = int(files * percent / 100)
model_slots = set(rng.sample(range(files), models))
os.makedirs(root, exist_ok=True)
with open(os.path.join(root, ".gitignore"), "w") as f:
    f.write("/rendered/\n")
names = ["deployment", "service", "configmap", "kustomization", "application"]
for n in range(files):
    team = f"team-{(n // 5) % 40:02d}"
    app = f"app-{n // 5:04d}"
    folder = os.path.join(root, "apps", team, app)
    os.makedirs(folder, exist_ok=True)
    if n in model_slots:
        path, text = os.path.join(folder, f"model-{n % 5}.yaml"), model(team, app)
    else:
        kind = n % 5
        path, text = os.path.join(folder, names[kind] + ".yaml"), ordinary(team, app, kind)
    with open(path, "w") as f:
        f.write(text)
print(f"{files} YAML files, {models} model manifests, in {root}")
