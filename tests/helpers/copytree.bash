# shellcheck shell=bash
# copytree.bash - a private copy of the workbook for the checks that edit
# exercises, run make or drive the workbook program: they work on the copy,
# never on the learner's tree.
#
# Expects WB_ROOT, the top of the workbook.

# wb_copy_tree DEST: copy the workbook's sources (the files git tracks, or
# the fixed top-level directories outside a git checkout) and its reference
# builds, plain and sanitized, to DEST, keeping modification times, so that make in the copy
# rebuilds only what a check changes there.  The copy's exercises are the
# skeletons, whatever the learner's tree holds.  Workbook programs run in
# the copy need WORKBOOK_ROOT=DEST.
wb_copy_tree() {
	local dest=$1 built=() d f
	mkdir -p "$dest" || return 1
	# The plain build and each sanitizer build: a check may run any of them.
	for d in build/skel-src build/{,san-thread/,san-address/}{obj,lib,sol,fixtures,workbook}; do
		[ -e "$WB_ROOT/$d" ] && built+=("$d")
	done
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
