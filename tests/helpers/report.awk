# report.awk - a learner's view of one exercise's bats TAP log.
#
#   awk -v id=ID [-v where=LINE] [-v hint=LINE] [-v max=N] [-v brief=1]
#       [-v logfile=PATH] -f report.awk LOG
#
# Prints one line per check, "  ✓ NAME" or "  ✗ NAME" (the "[ID] " prefix
# dropped), and under a failed one the reasons it gave, indented.  Left out:
# bats' stack trace ("# (from function ...", "#   `...' failed") and the
# pointer lines every check of the exercise repeats (WHERE and HINT, exact
# matches), which the caller prints once.  At most MAX reason lines per check
# (0: all); the lines cut are counted, except that a sanitizer's "SUMMARY:"
# line is always kept, as it names the file and line.
#
# brief=1: only the first failing check, its name and reasons, no list.
# Written for any POSIX awk (mawk included).

BEGIN {
	if (max == "") max = 0
	failing = 0
}

# Flushes the reasons kept for the check that ended.
function flush(    i, cut, more) {
	if (!open) return
	open = 0
	cut = (max > 0 && nreason > max) ? max : nreason
	for (i = 1; i <= cut; i++)
		print (reason[i] == "" ? "" : "      " reason[i])
	more = 0
	for (i = cut + 1; i <= nreason; i++) {
		if (reason[i] ~ /^SUMMARY: /)
			print "      " reason[i]
		else
			more++
	}
	if (more > 0)
		printf "      ... %d more line%s%s\n", more, more == 1 ? "" : "s",
			logfile != "" ? " in " logfile : ""
	nreason = 0
}

# A result line: "ok N NAME", "ok N NAME # skip WHY", "not ok N NAME".
function start(line, ok,    name, skip) {
	flush()
	sub(/^(not )?ok [0-9]+ /, "", line)
	name = line
	skip = ""
	if (ok && match(name, / # skip/)) {
		skip = substr(name, RSTART + 7)
		sub(/^ */, "", skip)
		name = substr(name, 1, RSTART - 1)
	}
	if (substr(name, 1, length(id) + 3) == "[" id "] ")
		name = substr(name, length(id) + 4)
	if (!ok)
		failing++
	if (brief) {
		if (ok || failing > 1) return
		print "  ✗ " name
	} else if (skip != "")
		print "  - " name " (skipped: " skip ")"
	else
		print "  " (ok ? "✓" : "✗") " " name
	open = !ok
}

/^ok [0-9]+ / { start($0, 1); next }
/^not ok [0-9]+ / { start($0, 0); next }

# bats' stack trace: the frames, then the command that failed.
/^# (\(| )(from function `[^']*' )?in (test )?file .*, line [0-9]+[,)]$/ { next }
/^#   `.*' failed( with status [0-9]+)?( due to timeout)?$/ {
	if ($0 ~ / due to timeout$/ && open)
		reason[++nreason] = "(the check ran past its time limit and was stopped)"
	next
}

/^#/ {
	if (!open || $0 == where || $0 == hint) next
	line = $0
	sub(/^# ?/, "", line)
	reason[++nreason] = line
	next
}

END { flush() }
