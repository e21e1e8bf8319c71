# The C Concurrency Workbook: one Makefile drives everything.  `make help`
# lists the targets.  Output goes to build/ (build/san-thread/ and
# build/san-address/ for the sanitizer builds), never into the sources.
#
# How the sources become programs, for each chapter C:
#   chapters/C/*.c with a main()      demo programs
#   chapters/C/*.c without one        the chapter's library
#   solutions/C/*.c                   library files that are also exercises
#   tests/progs/C/*.c                 test drivers (each has a main)
# Every program links the chapter's library, one version of each exercise
# file and common/libcommon.a.
#
# A chapter may need a library the others do not: a line "pkg<TAB>NAME" in
# its CHAPTER manifest (chapter 04's libuv) adds pkg-config's flags for NAME
# to that chapter's compilations and links, and a line "cflags<TAB>FLAGS"
# (chapter 04's -fopenmp) adds FLAGS to both.
#
# A chapter may build on another chapter's library: a line "uses<TAB>OTHER"
# in its CHAPTER manifest (chapter 03's tasks run blocking calls on chapter
# 01's executor) adds -Ichapters/OTHER to its compilations and links OTHER's
# reference library into each of its programs: OTHER's library files and
# every one of its exercise files from solutions/, whatever variant of this
# chapter is built, so an exercise of OTHER never breaks this chapter.
#
# Which version of an exercise file a program links is what a "variant"
# decides:
#   sol/         every exercise file from solutions/ (the reference build)
#   ex/ID/       exercise ID from exercises/, the rest from solutions/
#   skel/ID/     exercise ID from its skeleton generated out of solutions/
#   mut/ID/NAME/ exercise ID from a wrong solution (tests/mutants/ID/NAME.patch)
#   mine/        every exercise file of the chapter from exercises/: the
#                learner's own build, which `workbook run DEMO --mine` runs
# so each exercise is checked on its own, against working neighbours.

.DEFAULT_GOAL := all
SHELL := /bin/bash
.SUFFIXES:
.DELETE_ON_ERROR:

SAN ?=
BUILD := build$(if $(SAN),/san-$(SAN))
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
# Under progress.awk (see "Quiet builds" below) each recipe announces the
# file it makes ("  CC      FILE") for the awk to count; otherwise a normal
# build prints no line per file, and V=1 prints every command.
ANNOUNCE := $(and $(Q),$(filter 1,$(WB_INNER)))

ifeq ($(SAN),)
SAN_FLAGS :=
else ifeq ($(SAN),thread)
SAN_FLAGS := -fsanitize=thread
else ifeq ($(SAN),address)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	     -fno-omit-frame-pointer
else
$(error SAN must be empty, thread or address, not '$(SAN)')
endif

PKGS := libcurl sqlite3 gmp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	    -Wmissing-prototypes -Wformat=2 -Wpointer-arith -Wvla -Wundef
WB_CFLAGS = -std=c11 -D_DEFAULT_SOURCE $(WARNINGS) -pthread $(SAN_FLAGS) \
	    -Icommon $(PKG_CFLAGS) $(CFLAGS)
WB_LDLIBS = $(PKG_LIBS) -pthread -lm

# ---------------------------------------------------------------- discovery

CHAPTERS := $(sort $(notdir $(wildcard chapters/[0-9][0-9]-*)))
MANIFESTS := $(wildcard $(CHAPTERS:%=chapters/%/CHAPTER))
# Files that define main(), whether "int main(" or "int\nmain(".
LPAREN := (
mains_in = $(if $(1),$(shell grep -lE '^(int[[:space:]]+)?main[[:space:]]*[$(LPAREN)]' $(1)))
# One word per exercise, "ID:CHAPTER:FILE", read from the chapter manifests.
EX_TABLE := $(shell awk -F'\t' '$$1 == "exercise" { split(FILENAME, p, "/"); \
	print $$2 ":" p[2] ":" $$3 }' $(MANIFESTS) /dev/null)
EXERCISES := $(foreach e,$(EX_TABLE),$(word 1,$(subst :, ,$(e))))
ex_field = $(word $(2),$(subst :, ,$(filter $(1):%,$(EX_TABLE))))

# What each chapter uses of the others: USES_INC_C (flags) and USES_OBJ_C
# (the reference build's objects of each chapter C uses).
uses_of = $(shell awk -F'\t' '$$1 == "uses" { print $$2 }' chapters/$(1)/CHAPTER 2>/dev/null)
lib_objs = $(patsubst chapters/$(1)/%.c,$(BUILD)/sol/$(1)/obj/lib/%.o,$(filter-out \
	$(call mains_in,$(wildcard chapters/$(1)/*.c)),$(wildcard chapters/$(1)/*.c))) \
	$(patsubst solutions/$(1)/%.c,$(BUILD)/sol/$(1)/obj/ex/%.o,$(wildcard solutions/$(1)/*.c))
$(foreach c,$(CHAPTERS),$(eval USES_$(c) := $(call uses_of,$(c))))
$(foreach c,$(CHAPTERS),$(eval USES_INC_$(c) := $(USES_$(c):%=-Ichapters/%)))
$(foreach c,$(CHAPTERS),$(eval USES_OBJ_$(c) := $(foreach u,$(USES_$(c)),$(call lib_objs,$(u)))))
# What each chapter needs of its own: CH_CFLAGS_C and CH_LIBS_C.
manifest_field = $(shell awk -F'\t' '$$1 == "$(2)" { print $$2 }' chapters/$(1)/CHAPTER 2>/dev/null)
$(foreach c,$(CHAPTERS),$(eval CH_PKGS_$(c) := $(call manifest_field,$(c),pkg)))
$(foreach c,$(CHAPTERS),$(eval CH_FLAGS_$(c) := $(call manifest_field,$(c),cflags)))
$(foreach c,$(CHAPTERS),$(eval CH_CFLAGS_$(c) := $(if $(CH_PKGS_$(c)),$(shell pkg-config --cflags $(CH_PKGS_$(c)) 2>/dev/null)) $(CH_FLAGS_$(c))))
$(foreach c,$(CHAPTERS),$(eval CH_LIBS_$(c) := $(if $(CH_PKGS_$(c)),$(shell pkg-config --libs $(CH_PKGS_$(c)) 2>/dev/null)) $(CH_FLAGS_$(c))))
# A chapter's compilations and links also take what the chapters it uses need.
$(foreach c,$(CHAPTERS),$(eval CH_ALL_CFLAGS_$(c) := $(CH_CFLAGS_$(c)) $(foreach u,$(USES_$(c)),$(CH_CFLAGS_$(u)))))
$(foreach c,$(CHAPTERS),$(eval CH_ALL_LIBS_$(c) := $(CH_LIBS_$(c)) $(foreach u,$(USES_$(c)),$(CH_LIBS_$(u)))))

COMMON_SRC := $(wildcard common/*.c)
COMMON_LIB := $(BUILD)/lib/libcommon.a
FIXTURE_SRC := $(call mains_in,$(wildcard tests/fixtures/*.c))
FIXTURES := $(FIXTURE_SRC:tests/fixtures/%.c=$(BUILD)/fixtures/%)
COMMON_TEST_SRC := $(wildcard tests/progs/common/*.c)
COMMON_TESTS := $(COMMON_TEST_SRC:tests/progs/common/%.c=$(BUILD)/sol/common/%)
WORKBOOK := $(BUILD)/workbook

# ---------------------------------------------------------------- rules

# $(call compile,OBJECT,SOURCE,EXTRA_CFLAGS)
define compile
$(1): $(2) $(MAKEFILE_LIST)
	@mkdir -p $$(@D)
	$$(if $$(ANNOUNCE),@echo "  CC      $$@")
	$(Q)$$(CC) $$(WB_CFLAGS) $(3) -MMD -MP -c $$< -o $$@
DEPFILES += $(1:.o=.d)
endef

# $(call link,PROGRAM,OBJECTS,EXTRA_LDLIBS)
define link
$(1): $(2) $(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(if $$(ANNOUNCE),@echo "  LINK    $$@")
	$(Q)$$(CC) $$(WB_CFLAGS) -o $$@ $(2) $(COMMON_LIB) $(3) $$(WB_LDLIBS)
endef

# $(call variant,DIR,CHAPTER,SWAPPED_FILES,FROM_DIR): build every program of
# CHAPTER into DIR/CHAPTER/, taking each of SWAPPED_FILES (exercise file
# names) from FROM_DIR.  Only those files are compiled for the variant; every
# other object is the reference build's, so a variant costs a compilation or
# two and a few links.
define variant
$(eval v_dir := $(1)/$(2))
$(eval v_sol := $(BUILD)/sol/$(2))
$(eval v_inc := -Ichapters/$(2) $(USES_INC_$(2)) $(CH_ALL_CFLAGS_$(2)))
$(eval v_all := $(wildcard chapters/$(2)/*.c))
$(eval v_progsrc := $(call mains_in,$(v_all)) $(wildcard tests/progs/$(2)/*.c))
$(eval v_libsrc := $(filter-out $(v_progsrc),$(v_all)))
$(eval v_exfiles := $(notdir $(wildcard solutions/$(2)/*.c)))
$(eval v_libobj := $(v_libsrc:chapters/$(2)/%.c=$(v_sol)/obj/lib/%.o) \
	$(foreach f,$(v_exfiles),$(if $(filter $(f),$(3)),$(v_dir),$(v_sol))/obj/ex/$(f:.c=.o)) \
	$(USES_OBJ_$(2)))
$(foreach f,$(3),$(eval $(call compile,$(v_dir)/obj/ex/$(f:.c=.o),$(4)/$(f),$(v_inc))))
$(foreach s,$(v_progsrc),$(eval $(call link,$(v_dir)/$(notdir $(s:.c=)),$(v_sol)/obj/prog/$(notdir $(s:.c=.o)) $(v_libobj),$(CH_ALL_LIBS_$(2)))))
$(eval VARIANT_PROGS_$(1) += $(foreach s,$(v_progsrc),$(v_dir)/$(notdir $(s:.c=))))
endef

# $(call reference,CHAPTER): compile every source of CHAPTER once, for the
# reference build and every variant.
define reference
$(eval r_dir := $(BUILD)/sol/$(1))
$(eval r_inc := -Ichapters/$(1) $(USES_INC_$(1)) $(CH_ALL_CFLAGS_$(1)))
$(eval r_all := $(wildcard chapters/$(1)/*.c))
$(eval r_progsrc := $(call mains_in,$(r_all)) $(wildcard tests/progs/$(1)/*.c))
$(foreach s,$(filter-out $(r_progsrc),$(r_all)),$(eval $(call compile,$(r_dir)/obj/lib/$(notdir $(s:.c=.o)),$(s),$(r_inc))))
$(foreach s,$(wildcard solutions/$(1)/*.c),$(eval $(call compile,$(r_dir)/obj/ex/$(notdir $(s:.c=.o)),$(s),$(r_inc))))
$(foreach s,$(r_progsrc),$(eval $(call compile,$(r_dir)/obj/prog/$(notdir $(s:.c=.o)),$(s),$(r_inc))))
endef

# common/ and its tests, the fixtures, the workbook program.
$(foreach s,$(COMMON_SRC),$(eval $(call compile,$(BUILD)/obj/common/$(notdir $(s:.c=.o)),$(s))))
$(COMMON_LIB): $(COMMON_SRC:common/%.c=$(BUILD)/obj/common/%.o)
	@mkdir -p $(@D)
	$(if $(ANNOUNCE),@echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(foreach s,$(COMMON_TEST_SRC) $(FIXTURE_SRC),$(eval $(call compile,$(BUILD)/obj/$(s:.c=.o),$(s))))
$(foreach s,$(COMMON_TEST_SRC),$(eval $(call link,$(BUILD)/sol/common/$(notdir $(s:.c=)),$(BUILD)/obj/$(s:.c=.o))))
$(foreach s,$(FIXTURE_SRC),$(eval $(call link,$(BUILD)/fixtures/$(notdir $(s:.c=)),$(BUILD)/obj/$(s:.c=.o))))
$(eval $(call compile,$(BUILD)/obj/workbook.o,chapters/workbook/workbook.c,-DWB_ROOT='"$(CURDIR)"' -DWB_BUILD='"$(BUILD)"'))
$(eval $(call link,$(WORKBOOK),$(BUILD)/obj/workbook.o))

# The reference build; one learner build and one skeleton build per
# exercise; one build of each chapter on all of the learner's files (mine);
# and one build per wrong solution (tests/mutants/ID/NAME.patch).
$(foreach c,$(CHAPTERS),$(eval $(call reference,$(c))))
$(foreach c,$(CHAPTERS),$(eval $(call variant,$(BUILD)/sol,$(c))))
$(foreach e,$(EXERCISES),$(eval $(call variant,$(BUILD)/ex/$(e),$(call ex_field,$(e),2),$(call ex_field,$(e),3),exercises/$(call ex_field,$(e),2))))
$(foreach e,$(EXERCISES),$(eval $(call variant,$(BUILD)/skel/$(e),$(call ex_field,$(e),2),$(call ex_field,$(e),3),build/skel-src/$(call ex_field,$(e),2))))
$(foreach c,$(CHAPTERS),$(eval $(call variant,$(BUILD)/mine,$(c),$(notdir $(wildcard solutions/$(c)/*.c)),exercises/$(c))))
MUTANTS := $(patsubst tests/mutants/%.patch,%,$(wildcard tests/mutants/*/*.patch))
mut_id = $(firstword $(subst /, ,$(1)))
$(foreach m,$(MUTANTS),$(eval $(call variant,$(BUILD)/mut/$(m),$(call ex_field,$(call mut_id,$(m)),2),$(call ex_field,$(call mut_id,$(m)),3),build/mut-src/$(m))))

SOL_PROGS := $(VARIANT_PROGS_$(BUILD)/sol) $(COMMON_TESTS)
EX_PROGS := $(foreach e,$(EXERCISES),$(VARIANT_PROGS_$(BUILD)/ex/$(e)))
SKEL_PROGS := $(foreach e,$(EXERCISES),$(VARIANT_PROGS_$(BUILD)/skel/$(e)))
MUT_PROGS := $(foreach m,$(MUTANTS),$(VARIANT_PROGS_$(BUILD)/mut/$(m)))

# Skeletons are generated from the solutions: one source of truth.
SOLUTION_FILES := $(wildcard solutions/*/*.c)
SKEL_SRC := $(SOLUTION_FILES:solutions/%=build/skel-src/%)
build/skel-src/%: solutions/% tests/helpers/mkskel.awk
	@mkdir -p $(@D)
	$(Q)awk -f tests/helpers/mkskel.awk $< > $@

# A wrong solution is its exercise's solution with one small patch applied.
# The rule is written out per mutant: the patch and the solution it applies
# to come from two different stems.
define mutant_src
build/mut-src/$(1)/$(2): solutions/$(3)/$(2) tests/mutants/$(1).patch
	@mkdir -p $$(@D)
	$(Q)patch -s -f -r - -o $$@ $$< < tests/mutants/$(1).patch || \
		{ rm -f $$@; echo "tests/mutants/$(1).patch no longer applies to $$<" >&2; exit 1; }
endef
$(foreach m,$(MUTANTS),$(eval $(call mutant_src,$(m),$(call ex_field,$(call mut_id,$(m)),3),$(call ex_field,$(call mut_id,$(m)),2))))

-include $(DEPFILES)

# ---------------------------------------------------------------- targets

.PHONY: all programs exercises skeletons mutants deps run watch test test-san check \
	bench skels skels-src sync-check serve compdb format format-check clean help

# Quiet builds.  Unless V=1, a make whose goals only build files (those in
# BUILD_GOALS) hands them to a second make, marked WB_INNER=1, and shows its
# output through tests/helpers/progress.awk: one progress line (rewritten on
# a terminal, a summary otherwise), with warnings and errors in full.  All
# the goals go to one second make, so `make -j2 programs skeletons` still
# builds each file once.
BUILD_GOALS := all programs exercises skeletons mutants ex-% skel-% mine-%
GOALS := $(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))
QUIET_OUTER := $(if $(or $(filter 1,$(V) $(WB_INNER)),$(filter-out $(BUILD_GOALS),$(GOALS))),,1)
# $(call quietly,MAKE ARGS): a make run folded by progress.awk, keeping its
# exit status (progress.awk exits with the one it is told).
quietly = tty=0; [ -t 1 ] && tty=1; set -o pipefail; \
	{ $(MAKE) --no-print-directory -s WB_INNER=1 $(1) 2>&1; echo "wb-make-status $$?"; } | \
	awk -v tty=$$tty -f tests/helpers/progress.awk

.PHONY: wb-quiet
ifeq ($(QUIET_OUTER),1)
$(GOALS): wb-quiet ; @:
wb-quiet:
	@+$(call quietly,$(GOALS))
else
all: programs exercises  ## build every program, the exercises included

programs: $(COMMON_LIB) $(SOL_PROGS) $(FIXTURES) $(WORKBOOK)

exercises: $(EX_PROGS)  ## build the learner's exercises (build/ex/ID/)

skeletons: $(SKEL_SRC) $(SKEL_PROGS)  ## build the skeletons made from solutions/

mutants: $(MUT_PROGS)  ## build the wrong solutions kept in tests/mutants/

# One target per exercise, so one broken exercise never stops the others:
# `make ex-00-mutex` builds the learner's version, `make skel-00-mutex` the
# skeleton's.
$(foreach e,$(EXERCISES),$(eval ex-$(e): $(VARIANT_PROGS_$(BUILD)/ex/$(e))))
$(foreach e,$(EXERCISES),$(eval skel-$(e): $(VARIANT_PROGS_$(BUILD)/skel/$(e))))
# `make mine-01-threading` builds chapter 01's programs on every exercise file
# of that chapter as the learner has it (build/mine/01-threading/).
$(foreach c,$(CHAPTERS),$(eval mine-$(c): $(filter $(BUILD)/mine/$(c)/%,$(VARIANT_PROGS_$(BUILD)/mine))))
endif

deps:  ## find missing tools and libraries; install them when allowed
	@tests/helpers/deps.sh

# One build for the programs and the exercises; an exercise that does not
# compile yet must not keep the menu closed, a program that does not must.
run: deps  ## the quick start: install what is missing, build, open the menu
	@+$(call quietly,-k programs exercises) || \
		{ $(MAKE) --no-print-directory -q WB_INNER=1 programs && \
		echo "(some exercises do not compile yet: make check shows which)"; }
	@$(WORKBOOK)

watch: deps  ## re-check an exercise each time you save it (EX=ID, or the next to do)
	@+$(call quietly,programs)
	@$(WORKBOOK) watch $(EX)

# The + on the recipes that run tests/run hands make's jobserver on to the
# makes it runs, so `make -j2 check` neither warns nor loses its -j.
test: deps  ## every check: solutions, skeletons, mutants, sync, format, sanitizers
	@+tests/run test

test-san: deps  ## the suite under ThreadSanitizer and ASan+UBSan only
	@+tests/run san

# Exercises still to do are the expected outcome of `make check`, not a
# failed make: tests/run's status 1 (not all done) ends it with status 0.
# An unknown EX is a usage mistake: one line, status 2, before anything runs.
check: deps  ## your progress: run the checks on exercises/ (EX=ID for one)
	@+tests/run check $(EX) || [ $$? -eq 1 ]
ifneq ($(filter check watch,$(GOALS)),)
$(foreach e,$(EX),$(if $(filter $(e),$(EXERCISES)),,$(error no exercise '$(e)' (see: build/workbook list))))
endif

bench: programs  ## measured tables (medians of several runs)
	@tests/run bench

skels-src: $(SKEL_SRC)

# The maintainers' tool: regenerate exercises/ from solutions/.  It writes
# only files that are missing or still the skeleton tests/skeletons.sha256
# records, so a learner's edits survive it; FORCE=1 overwrites them too.
skels: $(SKEL_SRC)  ## (maintainers) exercises/ from solutions/; refuses over edits unless FORCE=1
	@tests/helpers/skels.sh $(if $(filter 1,$(FORCE)),--force)

sync-check: $(SKEL_SRC)  ## are the skeletons recorded, and exercises/ pristine or your work?
	@tests/run sync

serve: programs  ## start the loopback HTTP server (PORT=0 picks a free port)
	$(BUILD)/fixtures/httpd --port $(or $(PORT),0)

compdb:  ## write compile_commands.json for editors (needs bear)
	@command -v bear >/dev/null || { echo "compdb: install bear first"; exit 1; }
	bear --output compile_commands.json -- $(MAKE) -B all

# exercises/ is left alone: its skeletons come out of mkskel.awk already
# formatted (format-check proves it), and an edited one is the learner's.
format:  ## clang-format every C file in place (your exercises excepted)
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^exercises/')

format-check:  ## is every C file formatted as .clang-format says?
	@tests/run format

clean:  ## remove build/
	rm -rf build

help:  ## list the targets
	@echo "The C Concurrency Workbook. Targets:"
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  make %-13s %s\n", $$1, $$2 }' \
		$(firstword $(MAKEFILE_LIST))
	@echo "  make ex-ID         build your version of one exercise (build/ex/ID/)"
	@echo "  make mine-CHAPTER  a chapter's programs on all your exercise files"
	@echo "Variables: SAN=thread|address (sanitizer build), EX=ID (make check, watch),"
	@echo "           PORT=N (make serve), V=1 (show commands), FORCE=1 (make skels),"
	@echo "           CC, CFLAGS."

$(foreach e,$(EXERCISES),$(eval .PHONY: ex-$(e) skel-$(e)))
$(foreach c,$(CHAPTERS),$(eval .PHONY: mine-$(c)))
