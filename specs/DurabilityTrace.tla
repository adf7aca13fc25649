-------------------------- MODULE DurabilityTrace --------------------------
(***************************************************************************)
(* Trace validation: is a recorded run a behaviour of Durability?          *)
(*                                                                         *)
(* `ackbound spec validate` turns a history (docs/history.md) into the     *)
(* constants below and asks TLC whether some behaviour of Durability       *)
(* produces exactly the observed events, in the recorded order.  The       *)
(* harness sees only the outside of the store: client operations (each an *)
(* invocation and, later, a completion), lag observations and the effects *)
(* of the faults it applied.  Everything else is existentially            *)
(* quantified: replication, acknowledgements, clock ticks and the         *)
(* completion of sync writes happen whenever the spec allows, between     *)
(* and around the observations.                                            *)
(*                                                                         *)
(* Each observed operation is an interval, so the spec action it stands   *)
(* for is not pinned to one observation either: it happens at some point  *)
(* between the operation's opening event (its invocation) and its closing *)
(* event (its completion).  A write is applied (ClientWrite) somewhere in  *)
(* its interval, a read looks at a node's log somewhere in its interval,  *)
(* a lag observation is one ReportLag in its interval, and the effects of *)
(* a fault are spec actions taken in order inside the fault's interval.   *)
(* A write whose outcome is unknown (info, or no completion) may be       *)
(* applied at any later time, as a request held by a cut link may be,     *)
(* unless its error said it was applied (a sync write timed out on the    *)
(* primary) while the spec could not have rejected it: then it was        *)
(* applied by its completion, whatever its status (the "applied" event).  *)
(* A failed write is not in the trace: a clean rejection changes no log,  *)
(* so to every later observation it is as if the write never happened.    *)
(*                                                                         *)
(* The variable l indexes the next event of Trace to match.  The run is a *)
(* behaviour of the spec iff some behaviour of TraceNext reaches           *)
(* l = Len(Trace) + 1, i.e. iff TLC finds a violation of TraceIncomplete. *)
(* Otherwise the largest l reached names the first event no behaviour     *)
(* explains; the constraint Furthest prints the first state reaching each *)
(* new l, so the last one printed is a state from which event l could not *)
(* be matched.  Run TLC breadth first on one worker (TLC registers are    *)
(* per worker).                                                            *)
(*                                                                         *)
(* Nothing here changes Durability's actions: the trace module only       *)
(* restricts which of them may happen when, and adds bookkeeping          *)
(* variables.  harness/spec/_validate.py builds the constants; see the    *)
(* "Trace validation" section of specs/README.md for the mapping.         *)
(***************************************************************************)
EXTENDS Durability, TLC

CONSTANTS
    TraceIn,    \* The observed events in recorded order, records [k, t, x]:
                \*   k = "open"   an operation begins (its window opens);
                \*       "ok"     write x completed ok;
                \*       "applied" write x completed with an error saying it
                \*                was applied (its status unknown);
                \*       "check"  read or lag observation x completed;
                \*       "steps"  a fault completed: Steps[1..x] have happened;
                \*   t = the tick of the clock at the event.
    WritesIn,   \* Writes[h]: the h-th client write of the history:
                \*   [node, key, val, from, to]: the node it was sent to ("*" if
                \*   unknown), its key and value, and its window: it may be
                \*   applied once event `from` is matched and until event `to`.
    ChecksIn,   \* Checks[c]: a read or a lag observation:
                \*   [kind, node, key, val, lo, hi, from, to]; kind is "list",
                \*   "set", "register", "counter" (a read of key on node that
                \*   returned val) or "lag" (node reported a lag of lo..hi ticks).
    WindowIn,   \* Window[i]: [w, c], the writes and checks whose windows are open
                \*   while l = i (a precomputed index: it only saves TLC work).
    StepsIn     \* Steps[s]: the spec actions the fault effects stand for, in
                \*   order: [act, x, y, from, to], act one of "Crash",
                \*   "Restart", "RestartWiped", "Cut", "Heal", "Failover",
                \*   "Repoint" (the controller pointed x at the primary: x may
                \*   Rejoin from now on) and "Synced" (x holds the primary's log).

VARIABLES
    l,          \* The index of the next event of Trace to match.
    hw,         \* hw[i]: the history write that the spec's write i is (the
                \* spec numbers writes in the order they are applied).
    fdone,      \* The checks whose window is open and that have happened.
    fx,         \* How many of Steps have happened.
    repointed   \* Nodes re-pointed at the current primary since its failover.

traceVars == <<l, hw, fdone, fx, repointed>>

\* The constants under the names the rest of the module uses.  The harness
\* binds each constant to a definition of its own module (TraceIn <- MCTrace),
\* and TLC evaluates such a binding anew wherever the constant is used, which
\* for a long trace is thousands of records per use; a definition without
\* arguments that depends on constants only, like these, TLC evaluates once,
\* at startup.
Trace == TraceIn
Writes == WritesIn
Checks == ChecksIn
Window == WindowIn
Steps == StepsIn

\* The window of a write, check or step is open.
Open(x) == x.from < l /\ l <= x.to

Applied(h) == \E i \in DOMAIN hw : hw[i] = h

SpecId(h) == CHOOSE i \in DOMAIN hw : hw[i] = h

-----------------------------------------------------------------------------
(* Reads: what a node's log says a read of a key returns. *)

\* The spec ids in n's log of the writes to key, in log order.
KeyIds(n, key) == SelectSeq(log[n], LAMBDA i : Writes[hw[i]].key = key)

\* Their values.
KeyValues(n, key) ==
    LET ids == KeyIds(n, key) IN [j \in DOMAIN ids |-> Writes[hw[ids[j]]].val]

\* The items of a sequence.
Range(s) == {s[j] : j \in DOMAIN s}

RECURSIVE SumSeq(_)
SumSeq(s) == IF s = <<>> THEN 0 ELSE Head(s) + SumSeq(Tail(s))

\* A register reads as <<>> (nil) or <<v>>, the last value written.
ReadFits(c) ==
    LET ch == Checks[c]
        vs == KeyValues(ch.node, ch.key)
    IN  CASE ch.kind = "list"     -> vs = ch.val
          [] ch.kind = "set"      -> Range(vs) = ch.val
          [] ch.kind = "counter"  -> SumSeq(vs) = ch.val
          [] ch.kind = "register" -> IF vs = <<>> THEN ch.val = <<>>
                                     ELSE ch.val = <<vs[Len(vs)]>>

-----------------------------------------------------------------------------
(* The actions the observations stand for, each inside its window. *)

\* Write h, sent to the primary, is applied now (the mode decides its status).
ApplyWrite(h) ==
    /\ Open(Writes[h])
    /\ ~Applied(h)
    /\ Writes[h].node \in {primary, "*"}
    /\ ClientWrite
    /\ hw' = Append(hw, h)
    /\ UNCHANGED <<l, fdone, fx, repointed>>

\* Check c happens now: a read sees the node's log, or the primary reports a
\* lag within the observed bounds.
Check(c) ==
    /\ Open(Checks[c])
    /\ c \notin fdone
    /\ IF Checks[c].kind = "lag"
       THEN /\ Checks[c].node = primary
            /\ Lag \in Checks[c].lo .. Checks[c].hi
            /\ ReportLag
       ELSE /\ ReadFits(c)
            /\ UNCHANGED vars
    /\ fdone' = fdone \cup {c}
    /\ UNCHANGED <<l, hw, fx, repointed>>

\* The next fault effect takes place.
NextStep ==
    /\ fx < Len(Steps)
    /\ Open(Steps[fx + 1])
    /\ LET st == Steps[fx + 1] IN
       CASE st.act = "Crash"        -> Crash(st.x) /\ UNCHANGED repointed
         [] st.act = "Restart"      -> Restart(st.x) /\ UNCHANGED repointed
         [] st.act = "RestartWiped" -> RestartWiped(st.x) /\ UNCHANGED repointed
         [] st.act = "Cut"          -> Cut(st.x, st.y) /\ UNCHANGED repointed
         [] st.act = "Heal"         -> Heal(st.x, st.y) /\ UNCHANGED repointed
         [] st.act = "Failover"     -> Failover(st.x) /\ repointed' = {}
         [] st.act = "Repoint"      -> /\ repointed' = repointed \cup {st.x}
                                       /\ UNCHANGED vars
         [] st.act = "Synced"       -> /\ st.x \notin stale
                                       /\ log[st.x] = log[primary]
                                       /\ UNCHANGED <<vars, repointed>>
    /\ fx' = fx + 1
    /\ UNCHANGED <<l, hw, fdone>>

\* Replication to n is quiet when nothing can observe it until the next fault
\* effect that concerns n or a read of n: n's acknowledgements cannot count
\* (none mode, n not eligible, or the link n -> primary cut).  Quietness ends
\* only with a fault effect that concerns n, and replication stays enabled
\* until one (the primary's log only grows in between), so quiet replication
\* can always be deferred to a moment when such an effect or a read of n may
\* come next (Observable): the states where it happened earlier need not be
\* explored.
Quiet(n) ==
    \/ Mode = "none"
    \/ n \notin Eligible
    \/ <<n, primary>> \in cut

\* The fault effects that concern n: a failover (it reads every log and
\* changes who is eligible), anything done to n or to a link of n, and a
\* crash or restart of the primary (n's replication stops or resumes).
Concerns(st, n) ==
    \/ st.act = "Failover"
    \/ n \in {st.x, st.y}
    \/ st.act \in {"Crash", "Restart"} /\ st.x = primary

Observable(n) ==
    \/ fx < Len(Steps) /\ Open(Steps[fx + 1]) /\ Concerns(Steps[fx + 1], n)
    \/ \E c \in Window[l].c : c \notin fdone /\ Checks[c].kind # "lag" /\ Checks[c].node = n

\* The writes Complete and TimeOut may take: both need a pending one.  Asking
\* each of them only of these, rather than of every write so far, is the
\* same step relation, and spares TLC a step per write in every state.
PendingWrites == {w \in DOMAIN writes : writes[w].status = "pending"}

\* What the harness cannot see: replication, a sync write's timeout, a
\* re-pointed node discarding what the primary lacks, and the clock (which
\* never runs past the next event's tick).  Acknowledgements and the
\* completion of sync writes are separate: see Acknowledged and Completed.
Unobserved ==
    /\ \/ \E n \in Nodes : ReplicateNext(n) /\ (~Quiet(n) \/ Observable(n))
       \/ Mode = "sync" /\ \E w \in PendingWrites : TimeOut(w)
       \/ \E n \in repointed : Rejoin(n)
       \/ l <= Len(Trace) /\ now < Trace[l].t /\ Tick
    /\ UNCHANGED traceVars

\* A replica acknowledges what it holds.  Acknowledgements are taken as soon
\* as they are enabled, before any other step: a larger acked[n] never
\* disables an action (it only enables Complete, lowers the lag, and so turns
\* rejections into acceptances, which the trace allows wherever it allows the
\* rejection), so every behaviour that matches the trace has an eager
\* counterpart that matches it too, and the states in between need not be
\* explored.  (This is why a lag observation bounds the spec's lag only from
\* above: the eager behaviour has the smallest lag.)
Acknowledged == \E n \in Nodes : Acknowledge(n) /\ UNCHANGED traceVars

AckDue == \E n \in Nodes : ENABLED Acknowledge(n)

\* A pending sync write completes as soon as enough replicas acknowledged it,
\* once no acknowledgement is due, before any other step.  Completing early
\* never disables what a matching behaviour needs: Complete only turns the
\* write's status from "pending" to "ok", and "pending" only enables the
\* write's own Complete and TimeOut (whose "info" no event asks for: an info
\* outcome constrains nothing), holds back the clock (Tick), and ends as
\* "info" when the primary crashes, where "ok" stays "ok", which the write's
\* "ok" event needs and no event rules out.  So every behaviour that matches
\* the trace has a counterpart that completes each write as soon as it can,
\* and the states in between need not be explored.
Completed == \E w \in PendingWrites : Complete(w) /\ UNCHANGED traceVars

CompleteDue == \E w \in PendingWrites : ENABLED Complete(w)

\* Event l is matched: the clock reads its tick and what it says holds.
Observe ==
    /\ l <= Len(Trace)
    /\ now = Trace[l].t
    /\ LET e == Trace[l] IN
       CASE e.k = "open"  -> UNCHANGED fdone
         [] e.k = "ok"    -> /\ Applied(e.x)
                             /\ writes[SpecId(e.x)].status = "ok"
                             /\ UNCHANGED fdone
         [] e.k = "applied" -> /\ Applied(e.x)
                               /\ UNCHANGED fdone
         [] e.k = "check" -> /\ e.x \in fdone
                             /\ fdone' = fdone \ {e.x}
         [] e.k = "steps" -> /\ fx >= e.x
                             /\ UNCHANGED fdone
    /\ l' = l + 1
    /\ UNCHANGED <<vars, hw, fx, repointed>>

TraceInit ==
    /\ Init
    /\ l = 1
    /\ hw = <<>>
    /\ fdone = {}
    /\ fx = 0
    /\ repointed = {}

TraceNext ==
    \/ Acknowledged
    \/ ~AckDue /\ Completed
    \/ /\ ~AckDue
       /\ ~CompleteDue
       /\ \/ Observe
          \/ Unobserved
          \/ \E h \in Window[l].w : ApplyWrite(h)
          \/ \E c \in Window[l].c : Check(c)
          \/ NextStep

TraceSpec == TraceInit /\ [][TraceNext]_<<vars, traceVars>>

-----------------------------------------------------------------------------
(* What TLC checks. *)

\* Violated exactly when the whole trace was matched: TLC's counterexample is
\* then a behaviour of the spec that produces the run.
TraceIncomplete == l <= Len(Trace)

\* What of the record of spec write i a future step can read: the tick it
\* was applied at (the lag, the timeout) and its status, but of the status
\* only whether it is still pending once the write's window has closed: an
\* "ok" event reads whether the status is "ok" only at the write's own
\* completion, and nothing else reads "ok", "info" or "fail".  The record's
\* term and applied flag only invariants read.
WriteView(i) ==
    IF l > Writes[hw[i]].to THEN <<writes[i].at, writes[i].status = "pending">>
                            ELSE <<writes[i].at, writes[i].status>>

\* Every variable but lagReport, which no action reads (only the invariant
\* LagMetricNotUnderreported does), with each write's record as WriteView has
\* it: the view with a bug switched on (Bugs is {} in every validation).
ExactView == <<now, term, primary, up, log, acked, stale, cut,
               [i \in DOMAIN writes |-> WriteView(i)], crashes,
               l, hw, fdone, fx, repointed>>

(***************************************************************************)
(* Forgetting what no later step can tell apart.                           *)
(*                                                                         *)
(* ExactView keeps the order in which writes whose windows overlap were    *)
(* applied, in hw and in every log, so that every such pair multiplies    *)
(* the states to the end of the trace.  CanonicalView identifies states   *)
(* whose futures match the same events, by these facts of Durability      *)
(* without bugs:                                                           *)
(*                                                                         *)
(*  1. Spec ids are names: every action reaches a write's history through *)
(*     hw, so logs and records renamed to history ids lose nothing.       *)
(*  2. A node that is not stale holds a prefix of the primary's log: the  *)
(*     primary appends, replication copies its next entry, Rejoin and     *)
(*     RestartWiped cut a log to a prefix, and Failover marks stale every *)
(*     log that is not a prefix of the new primary's.  Such a log is its  *)
(*     length.  A stale node's log is the length c of its common prefix   *)
(*     with the primary's (what Rejoin cuts it to: the primary only       *)
(*     appends new ids) and what follows, which only a read of it shows.  *)
(*  3. A read sees the values of a key in log order (KeyIds).  So of      *)
(*     the first m entries of the primary's log only the order within     *)
(*     each key counts, where m is at most the length of every log a      *)
(*     later read may look at, and, before a failover, of every log       *)
(*     (Failover may cut the primary's to any of them): those m           *)
(*     entries then stay, in the same places, in every log a later        *)
(*     step reads.  And of a key's order only what its reads show: a      *)
(*     list read the order, a register read the last entry, a set or      *)
(*     counter read (or none) which entries there are.  A read of n       *)
(*     that a Synced step of n must precede does not bound m: n then      *)
(*     holds the whole log.  Before a wipe m is 0 (the wiped node         *)
(*     copies the log again, entry by entry).  Where the pending          *)
(*     writes lie among the m entries is kept (Complete compares          *)
(*     offsets).                                                          *)
(*  4. Of the ticks writes were applied at, the lag reads that of the      *)
(*     entry after AckedOffset in the primary's log, and TimeOut and Tick *)
(*     those of pending writes; nothing else reads a tick.  With no       *)
(*     failover or wipe ahead AckedOffset never falls (only they lower an *)
(*     acked[n] or change who is eligible), so the view keeps the ticks   *)
(*     along the primary's log from the first entry after the smaller of  *)
(*     AckedOffset and m (from its first entry while a failover or a wipe *)
(*     is to come: Failover resets acked), and a write's own tick only    *)
(*     while it is pending.                                               *)
(*                                                                         *)
(* So two states with the same CanonicalView take the same steps to states *)
(* with the same views, and exploring either finds every match of both.  *)
(* tests/spec/test_validate.py validates histories that each need one of  *)
(* these orders or ticks with this view and with ExactView.               *)
(***************************************************************************)

\* The index in Steps of the last step of kind act (0: none).
LastStep(act) ==
    LET at == {s \in DOMAIN Steps : Steps[s].act = act}
    IN  IF at = {} THEN 0 ELSE Max(at)

LastWipe == LastStep("RestartWiped")
LastFailover == LastStep("Failover")

\* PinnedUntil[n][s]: once s steps have happened, the last event by which a
\* read of n may still look at n's log without a "Synced" step of n first.
PinnedUntil ==
    LET reads(n) == {c \in DOMAIN Checks : Checks[c].kind # "lag" /\ Checks[c].node = n}
        syncs(n, c) == {s \in DOMAIN Steps : /\ Steps[s].act = "Synced"
                                            /\ Steps[s].x = n
                                            /\ Steps[s].to <= Checks[c].from}
    IN  [n \in Nodes |-> [s \in 0..Len(Steps) |->
            Max({Checks[c].to : c \in {c2 \in reads(n) : \A y \in syncs(n, c2) : y <= s}}
                \cup {0})]]

\* The keys some read of the given kind reads.
KeysReadAs(kind) == {Checks[c].key : c \in {c2 \in DOMAIN Checks : Checks[c2].kind = kind}}
ListKeys == KeysReadAs("list")
RegisterKeys == KeysReadAs("register")

CanonicalView ==
    LET L       == log[primary]
        ids     == [j \in 1..Len(L) |-> hw[L[j]]]
        others  == Nodes \ {primary}
        readers == {n \in others : PinnedUntil[n][fx] >= l}
        wipe    == fx < LastWipe
        fail    == fx < LastFailover
        c       == [n \in stale |-> CommonLength(log[n], L)]
        bounds  == {Len(log[n]) : n \in readers \ stale} \cup {c[n] : n \in readers \cap stale}
                   \cup IF fail THEN {Len(log[n]) : n \in others \ stale} \cup {c[n] : n \in stale}
                                ELSE {}
        m       == IF wipe THEN 0 ELSE Min(bounds \cup {Len(L)})
        a       == IF wipe \/ fail THEN 0 ELSE Min({AckedOffset, m})
        shared  == SubSeq(ids, 1, m)
        perKey  == [k \in {Writes[shared[j]].key : j \in 1..m} |->
                      LET ks == SelectSeq(shared, LAMBDA h : Writes[h].key = k)
                      IN  CASE k \in ListKeys     -> ks
                            [] k \in RegisterKeys -> <<Range(ks), ks[Len(ks)]>>
                            [] OTHER              -> Range(ks)]
        pending == {<<j, ids[j]>> : j \in {j2 \in 1..m : writes[L[j2]].status = "pending"}}
        ticks   == [j \in 1..(Len(L) - a) |-> writes[L[a + j]].at]
        records == {<<hw[i], IF writes[i].status = "pending" THEN WriteView(i)
                                                           ELSE WriteView(i)[2]>>
                    : i \in DOMAIN writes}
        staleV  == [n \in stale |->
                      IF n \in readers
                      THEN <<c[n], [j \in 1..(Len(log[n]) - c[n]) |-> hw[log[n][c[n] + j]]]>>
                      ELSE <<c[n]>>]
    IN  <<now, term, primary, up, [n \in others \ stale |-> Len(log[n])], staleV,
          m, perKey, SubSeq(ids, m + 1, Len(L)), pending, ticks, records, acked, cut,
          crashes, l, fdone, fx, repointed>>

\* The view TLC identifies states by.
TraceView == IF Bugs = {} THEN CanonicalView ELSE ExactView

\* A state constraint that always holds: it prints the first state to reach
\* each new event index (TLC register 1 holds the largest index so far).
Furthest ==
    IF l > TLCGet(1)
    THEN /\ TLCSet(1, l)
         /\ PrintT(<<"ackbound-furthest", l,
                     [now |-> now, term |-> term, primary |-> primary, up |-> up,
                      log |-> log, acked |-> acked, stale |-> stale, cut |-> cut,
                      writes |-> writes, crashes |-> crashes, lagReport |-> lagReport,
                      hw |-> hw, fx |-> fx, repointed |-> repointed]>>)
    ELSE TRUE

ASSUME TLCSet(1, 0)

=============================================================================
