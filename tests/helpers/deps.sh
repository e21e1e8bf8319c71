#!/usr/bin/env bash
# deps.sh - find what the workbook needs and, where allowed, install it.
#
# Needs: a C11 compiler, make, pkg-config, the libcurl, sqlite3, GMP and
# libuv development files (chapter 04 puts libuv beside the workbook's own
# loop), Open MPI's development files and mpirun (chapter 05), bats-core, curl and the sqlite3 shell (the checks
# compare the demos with them), patch (the wrong solutions in tests/mutants/
# are patches), git (the format check and the checks that copy the workbook
# list its files), clang-format (make format-check), gdb (when a check times
# out, it says where each thread of the stuck program waited), tmux (the
# checks of `workbook watch` drive it through a real terminal), jq (the checks
# read the JSON that decision_matrix and make bench write), and wrk (make
# bench loads chapter 03's server with it).
# On Debian or Ubuntu, as root or with sudo, missing pieces are installed with
# apt-get; elsewhere the exact commands are printed and the build stops.
set -u

missing=()      # Debian package names
have() { command -v "$1" >/dev/null 2>&1; }

have cc || have gcc || have clang || missing+=(gcc)
have make || missing+=(make)
have pkg-config || missing+=(pkg-config)
# bats-core 1.7 or later: the checks use per-test timeouts.
if ! have bats; then
	missing+=(bats)
elif ! bats --version | awk '{ split($2, v, "."); exit !(v[1] > 1 || (v[1] == 1 && v[2] >= 7)) }'; then
	echo "deps: $(bats --version) is too old: the checks need bats-core 1.7 or later"
	echo "      (https://github.com/bats-core/bats-core, or your system's newer package)"
	exit 1
fi
have curl || missing+=(curl)
have sqlite3 || missing+=(sqlite3)
have patch || missing+=(patch)
have git || missing+=(git)
have clang-format || missing+=(clang-format)
have gdb || missing+=(gdb)
have tmux || missing+=(tmux)
have awk || missing+=(mawk)
have timeout || missing+=(coreutils)
have wrk || missing+=(wrk)
have jq || missing+=(jq)
if have pkg-config; then
	pkg-config --exists libcurl || missing+=(libcurl4-openssl-dev)
	pkg-config --exists sqlite3 || missing+=(libsqlite3-dev)
	pkg-config --exists gmp || missing+=(libgmp-dev)
	pkg-config --exists libuv || missing+=(libuv1-dev)
	pkg-config --exists ompi-c || missing+=(libopenmpi-dev)
else
	missing+=(libcurl4-openssl-dev libsqlite3-dev libgmp-dev libuv1-dev libopenmpi-dev)
fi
have mpirun || missing+=(openmpi-bin)

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: missing: ${missing[*]}"
if have apt-get; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if have sudo && sudo -n true 2>/dev/null; then
			sudo="sudo"
		else
			echo "deps: run as root (or with sudo):"
			echo "  apt-get update && apt-get install -y ${missing[*]}"
			exit 1
		fi
	fi
	echo "deps: installing with apt-get"
	if $sudo apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		exit 0
	fi
	echo "deps: apt-get failed"
	exit 1
fi

cat <<TXT
deps: this system has no apt-get; install the equivalent of the list above:
  Debian/Ubuntu: sudo apt-get install -y gcc make pkg-config bats curl sqlite3 patch git clang-format gdb tmux wrk jq libcurl4-openssl-dev libsqlite3-dev libgmp-dev libuv1-dev libopenmpi-dev openmpi-bin
  Fedora:        sudo dnf install -y gcc make pkgconf-pkg-config bats curl sqlite patch git clang-tools-extra gdb tmux wrk jq libcurl-devel sqlite-devel gmp-devel libuv-devel openmpi-devel
  macOS (Homebrew): brew install pkg-config bats-core curl sqlite git clang-format gmp tmux wrk jq libuv open-mpi
    but note: the workbook targets Linux; macOS lacks pthread barriers,
    clock_nanosleep and pthread_condattr_setclock, which the programs use.
then run make again.
TXT
exit 1
