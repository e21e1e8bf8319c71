# shellcheck shell=bash
# copytree.bash - a private copy of the workbook for the checks that edit
# exercises, run make or drive the workbook program: they work on the copy,
# never on the learner's tree.
#
# Expects WB_ROOT, the top of the workbook.

# wb_copy_tree DEST: copy the workbook's sources (the files git tracks, or
# the fixed top-level directories outside a git checkout) and its reference
# builds to DEST, keeping modification times, so that make in the copy
# rebuilds only what a check changes there.  The builds copied are the
# plain one, the ThreadSanitizer one (the exercises' race checks run it)
# and, under the ASan suite, the ASan one: tests/run makes that one while
# the plain suite runs, which must not copy it half-made.  The copy's
# exercises are the skeletons, whatever the learner's tree holds.
# Workbook programs run in the copy need WORKBOOK_ROOT=DEST.
wb_copy_tree() {
	local dest=$1 built=() d f t trees=(build build/san-thread)
	mkdir -p "$dest" || return 1
	[ "${WB_SAN:-}" != address ] || trees+=(build/san-address)
	for t in "${trees[@]}"; do
		for d in "$t"/{obj,lib,sol,fixtures,workbook}; do
			[ -e "$WB_ROOT/$d" ] && built+=("$d")
		done
	done
	[ -e "$WB_ROOT/build/skel-src" ] && built+=(build/skel-src)
	(
		cd "$WB_ROOT" || exit 1
		if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
			git ls-files -z --cached | tar --null -T - -cf -
		else
			local top=(Makefile README.md common chapters exercises solutions tests)
			for f in .ci .clang-format .gitignore; do
				[ -e "$f" ] && top+=("$f")
			done
			tar -cf - "${top[@]}"
		fi
	) | tar -C "$dest" -xf - || return 1
	if [ ${#built[@]} -gt 0 ]; then
		tar -C "$WB_ROOT" -cf - "${built[@]}" | tar -C "$dest" -xf - || return 1
	fi
	# The skeletons, so a check starts where a new learner starts.
	for f in "$WB_ROOT"/build/skel-src/*/*.c; do
		[ -e "$f" ] || continue
		cp -p "$f" "$dest/exercises/${f#"$WB_ROOT"/build/skel-src/}" || return 1
	done
}
