# mkskel.awk - turn a solution file into the learner's skeleton.
#
# In a solution, the code the learner must write sits between two marker
# lines, and the stand-in code the skeleton compiles instead sits in a
# comment right after it:
#
#	/* >>> solution */
#	pthread_mutex_lock(&c->lock);
#	/* <<< solution */
#	/* >>> skeleton
#	(void)c;
#	<<< skeleton */
#
# The skeleton drops the solution lines and uncomments the stand-in; all other
# lines, the TODO comments included, are copied as they are.  A stray or
# unbalanced marker is an error, so a typo cannot leak a solution.

function fail(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
	failed = 1
	exit 1
}

/^[ \t]*\/\* >>> solution \*\/[ \t]*$/ {
	if (state != "") fail("'>>> solution' inside another block")
	state = "solution"; blocks++; next
}
/^[ \t]*\/\* <<< solution \*\/[ \t]*$/ {
	if (state != "solution") fail("'<<< solution' without '>>> solution'")
	state = ""; next
}
/^[ \t]*\/\* >>> skeleton[ \t]*$/ {
	if (state != "") fail("'>>> skeleton' inside another block")
	state = "skeleton"; next
}
/^[ \t]*<<< skeleton \*\/[ \t]*$/ {
	if (state != "skeleton") fail("'<<< skeleton' without '>>> skeleton'")
	state = ""; next
}
/>>> solution|<<< solution|>>> skeleton|<<< skeleton/ {
	fail("malformed marker line")
}
state == "solution" { next }
{ print }
END {
	if (failed) exit 1
	if (state != "") fail("block '" state "' is never closed")
	if (blocks == 0) fail("no '>>> solution' block: nothing for the learner to do")
}
