# hang.py - gdb's half of the hang report: where each thread of a stuck
# program waits, and who holds the mutex it waits for.
#
# tests/fixtures/wb-timeout.c loads it when a check runs out of time:
#
#     gdb -nx -batch -p PID -x tests/helpers/hang.py
#
# and it prints one line per thread, main first:
#
#     where each thread waited when the check timed out after 5 s:
#     main: clk_cond_wait_until in wait_for_results, deadlock.c:112
#     worker-1: pthread_mutex_lock in lock_both, deadlock.c:87, held by worker-2
#
# that is NAME: CALL in FUNCTION, FILE:LINE, where FUNCTION is the newest
# frame in the workbook's own code (a chapter, an exercise, a solution, a
# test program) and CALL what it called.  Helpers from common/ are passed
# over when workbook code lies further out, since a learner reads the line
# that called clk_cond_wait_until(), not clk_cond_wait_until() itself.
# A thread that runs none of the workbook's code (a library's own thread,
# or a program such as mpirun) is NAME: CALL in FUNCTION (OBJECT) instead:
# the newest function outside the C library, and the library or program
# it belongs to.
#
# Environment: WB_HANG_REPORT, the file to write (stdout without it), and
# WB_HANG_SECONDS, the time limit that ran out (for the first line).
#
# Everything here must work without debug information for the C library
# (a learner's machine rarely has it) and on code built with -O2, where a
# variable may be optimised out.  What cannot be found is said to be
# unknown, never guessed.

import os
import re
import sys

import gdb

# Source files of the workbook's own code, as the compiler was given them
# (relative to the top of the workbook).  The skeletons and wrong solutions
# the checks build are generated under build/.
WORKBOOK = re.compile(
    r"(^|/)(chapters|exercises|solutions|tests/progs|tests/fixtures|"
    r"build/skel-src|build/mut-src)/"
)
HELPERS = re.compile(r"(^|/)common/")

# glibc's internal names for the calls a program makes, for when the frame
# above the program's own is one of them.
INTERNAL = {
    "pthread_clockjoin_ex": "pthread_join",
    "lll_lock_wait": "pthread_mutex_lock",
    "lll_lock_wait_private": "pthread_mutex_lock",
    "pthread_cond_wait_common": "pthread_cond_wait",
}

SYS_FUTEX_X86_64 = 202


def public_name(name):
    """The name a program calls: ___pthread_cond_wait, __GI___pthread_mutex_lock,
    __interceptor_pthread_mutex_lock (ThreadSanitizer), pthread_join@plt and
    __pthread_cond_timedwait64 all become the pthread_* name."""
    name = name.split("@")[0]
    for prefix in ("__GI_", "___interceptor_", "__interceptor_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    name = name.lstrip("_")
    if name.startswith("pthread_") and name.endswith("64"):
        name = name[:-2]
    return INTERNAL.get(name, name)


def source_of(frame):
    """(file as compiled, line) of @frame, or (None, None) without debug info."""
    try:
        sal = frame.find_sal()
    except gdb.error:
        return None, None
    if sal.symtab is None or not sal.line:
        return None, None
    return sal.symtab.filename, sal.line


def frames_of(thread):
    """The thread's frames, newest first; an unwinding error ends the list."""
    thread.switch()
    frames = []
    try:
        frame = gdb.newest_frame()
        while frame is not None and len(frames) < 256:
            frames.append(frame)
            frame = frame.older()
    except gdb.error:
        pass
    return frames


def workbook_frame(frames):
    """(index, ours) of the frame to report: the newest in workbook code,
    else the newest in a common/ helper (ours is True for both), else the
    newest with any source (ours is False); (None, False) without one."""
    for wanted in (WORKBOOK, HELPERS):
        for i, frame in enumerate(frames):
            path, _ = source_of(frame)
            if path is not None and wanted.search(path):
                return i, True
    for i, frame in enumerate(frames):
        if source_of(frame)[0] is not None:
            return i, False
    return None, False


# The C library, the dynamic loader and the sanitizers' runtimes (whose
# interceptors wrap the C library's calls): where every wait ends, so they
# say little about who is waiting.
C_LIBRARY = re.compile(r"(^|/)(libc|libpthread|ld-linux[^/]*|lib[at]san|libubsan)\.so")


def object_of(frame):
    """The file @frame's code comes from: a shared library, else the
    program itself."""
    lib = gdb.solib_name(frame.pc())
    return lib if lib else gdb.selected_inferior().progspace.filename or "??"


def library_frame(frames):
    """The index of the newest frame outside the C library, or None: for a
    thread with none of the workbook's code (a library's own thread, or a
    program such as mpirun), the function it is waiting in."""
    for i, frame in enumerate(frames):
        if not C_LIBRARY.search(object_of(frame)):
            return i
    return None


def sanitizer_thread(frames):
    """Whether these are the frames of a sanitizer's own thread (the
    ThreadSanitizer runtime keeps one in the background), which never
    runs the program's code."""
    return any(re.match(r"_*(sanitizer|tsan|asan|ubsan)\b|__sanitizer::|__tsan::|__asan::",
                        frame.name() or "") for frame in frames)


def call_target(frame):
    """The function named by the call instruction @frame is returning to,
    when the disassembler can name it ("pthread_mutex_lock@plt"), or None.
    This is what the source called, whatever the library calls it inside."""
    pc = frame.pc()
    try:
        arch = frame.architecture()
    except gdb.error:
        return None
    # x86-64 calls are 5 (direct) or 2 to 7 bytes long; AArch64's bl is 4.
    for size in (5, 6, 4, 2, 3, 7):
        try:
            insn = arch.disassemble(pc - size, count=1)[0]
        except (gdb.error, gdb.MemoryError, IndexError):
            continue
        mnemonic = insn["asm"].split()[0] if insn["asm"].split() else ""
        if insn["addr"] + insn["length"] != pc or mnemonic not in ("call", "callq", "bl"):
            continue
        named = re.search(r"<([^>+]+)(\+\d+)?>", insn["asm"])
        return named.group(1) if named and named.group(2) is None else None
    return None


def called(frames, i):
    """What frames[i] called, or None if it is the newest frame (running)."""
    if i == 0:
        return None
    newer = frames[i - 1]
    path, _ = source_of(newer)
    if path is not None and (WORKBOOK.search(path) or HELPERS.search(path)):
        return newer.name() or "??"
    target = call_target(frames[i])
    if target:
        return public_name(target)
    return public_name(newer.name()) if newer.name() else "??"


def source_line(path, line):
    """Lines @line-2 .. @line+3 of @path as one string, and where line
    @line starts in it; ("", 0) when the file cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
    except OSError:
        return "", 0
    first = max(line - 3, 0)
    before = "\n".join(lines[first:line - 1])
    text = "\n".join(lines[first:line + 3])
    return text, len(before) + (1 if before else 0)


def call_argument(text, start, function):
    """The first argument of the call to @function that spans the line
    starting at @start in @text (a call may be split over lines), or None."""
    line_end = text.find("\n", start)
    if line_end < 0:
        line_end = len(text)
    found = None
    for m in re.finditer(r"\b%s\s*\(" % re.escape(function), text):
        args, end = call_arguments(text, m.end())
        if m.start() <= line_end and end >= start and args:
            found = args[0]
    return found


def call_arguments(text, i):
    """The arguments of the call whose "(" ends just before @i, each with
    its white space folded, and where the call ends."""
    depth, args, arg = 0, [], []
    for i in range(i, len(text)):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(" ".join("".join(arg).split()))
            arg = []
            continue
        arg.append(ch)
    args.append(" ".join("".join(arg).split()))
    return [a for a in args if a], i


def mutex_owner(address):
    """The LWP that holds the pthread_mutex_t at @address, or None when it
    is not locked or not known to be held by a thread."""
    try:
        mutex_t = gdb.lookup_type("pthread_mutex_t")
        data = gdb.Value(address).cast(mutex_t.pointer()).dereference()["__data"]
        if int(data["__lock"]) == 0:
            return None
        owner = int(data["__owner"])
    except (gdb.error, gdb.MemoryError, RuntimeError):
        return None
    return owner if owner > 0 else None


def futex_address(frames):
    """On x86-64 Linux, a thread asleep in the futex system call has the
    futex's address in rdi; for a mutex wait that is the mutex itself
    (its lock word comes first).  None elsewhere."""
    try:
        frame = frames[0]
        if frame.architecture().name() != "i386:x86-64":
            return None
        if int(frame.read_register("orig_rax")) != SYS_FUTEX_X86_64:
            return None
        return int(frame.read_register("rdi")) & 0xFFFFFFFFFFFFFFFF
    except (gdb.error, ValueError, IndexError):
        return None


def expression_address(frame, path, line):
    """The mutex the source line passes to pthread_mutex_lock(), evaluated
    in @frame, or None (not on that line, or optimised out)."""
    try:
        fullname = frame.find_sal().symtab.fullname()
    except (gdb.error, AttributeError):
        fullname = path
    text, start = source_line(fullname, line)
    expr = call_argument(text, start, "pthread_mutex_lock")
    if expr is None:
        return None
    try:
        frame.select()
        return int(gdb.parse_and_eval("(unsigned long)(%s)" % expr))
    except (gdb.error, RuntimeError):
        return None


def holder(frames, i, names, self_lwp):
    """", held by NAME" for the thread holding the mutex frames[i] waits
    for, or " (holder unknown)"."""
    path, line = source_of(frames[i])
    for address in (futex_address(frames), expression_address(frames[i], path, line)):
        if address is None:
            continue
        owner = mutex_owner(address)
        if owner is None:
            continue
        if owner == self_lwp:
            return ", held by itself (locked twice)"
        if owner in names:
            return ", held by " + names[owner]
        return ", held by thread %d, which has exited" % owner
    return " (holder unknown)"


def thread_names(inferior):
    """{LWP: name}: a thread's own name, "main" for the main thread unless
    it named itself, and "thread N" for a thread that never did."""
    try:
        program = os.path.basename(gdb.current_progspace().filename or "")[:15]
    except (gdb.error, AttributeError):
        program = ""
    names = {}
    for thread in inferior.threads():
        name = thread.name
        lwp = thread.ptid[1]
        if not name or name == program:
            name = "main" if lwp == inferior.pid else "thread %d" % thread.num
        names[lwp] = name
    return names


def describe(thread, names):
    """The report's line for @thread, or None for a sanitizer's thread."""
    lwp = thread.ptid[1]
    name = names[lwp]
    frames = frames_of(thread)
    i, ours = workbook_frame(frames)
    if not ours and sanitizer_thread(frames):
        return None
    j = None if ours else library_frame(frames)
    if j is not None:
        call = called(frames, j)
        place = "%s (%s)" % (frames[j].name() or "??", os.path.basename(object_of(frames[j])))
        if call is None:
            return "%s: running in %s" % (name, place)
        return "%s: %s" % (name, place) if call == "??" else "%s: %s in %s" % (name, call, place)
    if i is None:
        where = frames[0].name() if frames and frames[0].name() else "??"
        return "%s: in %s (no source information)" % (name, where)
    path, line = source_of(frames[i])
    func = frames[i].name() or "??"
    place = "%s, %s:%d" % (func, os.path.basename(path), line)
    call = called(frames, i)
    if call is None:
        return "%s: running in %s" % (name, place)
    text = "%s: %s in %s" % (name, call, place)
    if call == "pthread_mutex_lock":
        text += holder(frames, i, names, lwp)
    return text


def report():
    seconds = os.environ.get("WB_HANG_SECONDS", "?")
    lines = ["where each thread waited when the check timed out after %s s:" % seconds]
    inferior = gdb.selected_inferior()
    threads = sorted(inferior.threads(), key=lambda t: t.num) if inferior.pid else []
    if not threads:
        lines.append("(gdb could not stop the program to look: is ptrace allowed here?)")
    names = thread_names(inferior) if threads else {}
    # The main thread first, then the others in the order they started.
    threads.sort(key=lambda t: (t.ptid[1] != inferior.pid, t.num))
    for thread in threads:
        try:
            line = describe(thread, names)
        except gdb.error as e:
            line = "%s: unknown (%s)" % (names.get(thread.ptid[1], "?"), e)
        if line is not None:
            lines.append(line)
    return "\n".join(lines) + "\n"


def main():
    text = report()
    path = os.environ.get("WB_HANG_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


main()
