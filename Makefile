.PHONY: demo test down bench bench-scheduler bench-provision bench-chaos bench-soak

demo:  ## a local HA cluster (3 masters, 2 workers) with a sample deployment
	bash scripts/demo.sh

test:  ## lint, types, contracts and every test (installs what it needs)
	bash scripts/test.sh

down:  ## stop what `make demo` started
	.venv/bin/skiff down --dir run/cluster

bench:  ## store benchmark against Debian's etcd (writes bench/results/store.json)
	bash scripts/venv.sh && bash scripts/system-deps.sh && .venv/bin/python bench/store.py

bench-scheduler:  ## 1,000 hollow nodes, 5,000 pods through 3 API servers (writes bench/results/scheduler.json)
	bash scripts/venv.sh && .venv/bin/python bench/scheduler.py

bench-provision:  ## site.yml and join.yml against 3+3 lab hosts over SSH, root (writes bench/results/provision.json)
	bash scripts/venv.sh && bash scripts/system-deps.sh && .venv/bin/python bench/provision.py

bench-chaos:  ## 30 leader kills under load: Skiff's store, etcd (anchor), a whole skiff up cluster (writes bench/results/chaos.json)
	bash scripts/venv.sh && bash scripts/system-deps.sh && .venv/bin/python bench/chaos.py

bench-soak:  ## 30 minutes of churn on a skiff up cluster, RSS of every component each minute (writes bench/results/soak.json)
	bash scripts/venv.sh && .venv/bin/python bench/soak.py
