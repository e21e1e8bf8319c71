# progress.awk - fold a build's output into one progress line.
#
# Reads the output of a make run with WB_INNER=1, whose recipes announce
# each file they make with a line "  CC      FILE" (or LINK, AR), followed
# by the line "wb-make-status N" with make's exit status.  It counts the
# announcements instead of printing them and passes every other line
# (warnings, errors) through in full, then exits with make's status.
#
#   awk -v tty=1|0 [-v label=TEXT] [-v keep=1|0] [-v max=N] -f progress.awk
#
# tty=1 (stdout is a terminal): one line "LABEL: N files", rewritten in
# place with \r as the build goes on.  tty=0: nothing while it builds.
# keep=1 (the default) leaves a summary line at the end: "built N files"
# (nothing when all was up to date), or that the build failed; keep=0
# leaves nothing, for a caller that reports the outcome itself.  max=N passes at most N
# other lines through and says how many more there were.  Written for any
# POSIX awk (mawk included): no gawk extensions.

BEGIN {
	if (label == "") label = "building"
	if (keep == "") keep = 1
	files = 0; shown = 0; dropped = 0; status = -1; drawn = 0
}

# Clears the progress line, so that the next output starts on a clean line.
function erase() {
	if (drawn) {
		printf "\r%" length(drawn_text) "s\r", ""
		drawn = 0
	}
}

function draw() {
	if (!tty) return
	drawn_text = sprintf("%s: %d file%s", label, files, files == 1 ? "" : "s")
	printf "\r%s", drawn_text
	drawn = 1
	fflush()
}

/^wb-make-status [0-9]+$/ {
	status = $2 + 0
	next
}

/^  (CC|LINK|AR) +[^ ]/ {
	files++
	draw()
	next
}

{
	erase()
	if (max == "" || max == 0 || shown < max) {
		print
		shown++
	} else {
		dropped++
	}
	fflush()
	draw()
}

END {
	erase()
	if (dropped > 0)
		printf "(%d more line%s)\n", dropped, dropped == 1 ? "" : "s"
	# No status line: make itself never finished (killed, or the pipe broke).
	if (status < 0) status = 2
	if (keep && status != 0)
		print "the build failed: the errors are above"
	else if (keep && files > 0)
		printf "built %d file%s\n", files, files == 1 ? "" : "s"
	exit status
}
