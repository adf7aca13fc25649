----------------------------- MODULE Durability -----------------------------
(***************************************************************************)
(* The write-durability promises of a primary/replica RESP store.          *)
(*                                                                         *)
(* One node is the primary; it applies every client write to its log and  *)
(* replicates the log, in order, to the other nodes (the replicas), which  *)
(* acknowledge how much of it they hold.  Every node sits in an            *)
(* availability zone (AZ).  The store runs in one of three modes:          *)
(*                                                                         *)
(*   "none"   the primary replies right after applying a write.            *)
(*   "sync"   the reply waits until SyncReplicas replicas in an AZ other   *)
(*            than the primary's acknowledged the write.  With too few     *)
(*            such replicas connected the write is rejected before it is   *)
(*            applied; a write still waiting after SyncTimeout ticks ends  *)
(*            indeterminate ("info") and stays applied.                    *)
(*   "async"  the primary replies right after applying, but rejects every *)
(*            write while the durability lag exceeds LagLimit ticks.       *)
(*                                                                         *)
(* Faults: node crashes, the outage of a whole AZ, restarts with or        *)
(* without the node's data, directed link cuts, failover to the most       *)
(* up-to-date replica and the rejoin of a node whose log diverged.  Time   *)
(* is a discrete clock of ticks.  Every action is atomic.                  *)
(*                                                                         *)
(* The invariants at the end are the promises, named as ackbound's checker *)
(* names the matching history properties.  The Bugs constant switches on  *)
(* known implementation mistakes, each breaking one invariant, so that     *)
(* every invariant but TypeOK is shown to be refutable (see the *.cfg      *)
(* files and specs/README.md).                                             *)
(*                                                                         *)
(* The Python model models/_exact.py states the same machine; the two are *)
(* compared state for state by tests/spec (see specs/README.md).           *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Zones,          \* The availability zones, as a partition of the nodes:
                    \* {{n1, n2}, {n3}} is two AZs, n1 and n2 sharing one.
    InitPrimary,    \* The node that is primary in term 1.
    Mode,           \* "none", "sync" or "async".
    SyncReplicas,   \* K: replicas in other AZs a sync write waits for.
    LagLimit,       \* L: the async lag, in ticks, above which writes are rejected.
    SyncTimeout,    \* Ticks a sync write may wait before it ends indeterminate.
    MaxWrites,      \* Bound: how many client writes are invoked in all.
    MaxTime,        \* Bound: the clock stops at this tick.
    MaxCrashes,     \* Failure budget: node crashes plus AZ outages, in all.
    CuttableLinks,  \* Pairs of nodes, {a, b}, whose link may be cut, either way.
    Bugs            \* Subset of BugNames: the implementation mistakes switched on.

Nodes == UNION Zones

Modes == {"none", "sync", "async"}

(***************************************************************************)
(* The bugs.  Each names a mistake a real implementation could make:       *)
(*                                                                         *)
(*  ack-before-replication  a sync write is acknowledged once applied on   *)
(*                          the primary, without waiting for replicas.     *)
(*  count-same-az           a replica in the primary's own AZ counts       *)
(*                          towards K and towards the lag.                 *)
(*  promote-stale           failover may promote any reachable replica,    *)
(*                          not only a most up-to-date one.                *)
(*  never-reject            writes are never rejected (neither for too few *)
(*                          replicas nor for too much lag).                *)
(*  underreport-lag         the reported lag is the age of the newest     *)
(*                          unacknowledged write instead of the oldest.    *)
(*  reject-by-newest        async rejects writes while the age of the      *)
(*                          newest unacknowledged write exceeds LagLimit,  *)
(*                          not the age of the oldest (the lag).           *)
(*  apply-rejected          a write rejected with an error is applied all  *)
(*                          the same.                                      *)
(*  skip-entry              replication may send a replica the entry after *)
(*                          the one it needs, leaving a hole in its log.   *)
(***************************************************************************)
BugNames == {"ack-before-replication", "count-same-az", "promote-stale",
             "never-reject", "underreport-lag", "reject-by-newest",
             "apply-rejected", "skip-entry"}

ASSUME ZonesPartitionNodes ==
    /\ Zones # {}
    /\ {} \notin Zones
    /\ \A z1, z2 \in Zones : z1 # z2 => z1 \cap z2 = {}

ASSUME InitPrimaryIsNode == InitPrimary \in Nodes
ASSUME ModeIsKnown == Mode \in Modes
ASSUME SyncReplicasPositive == SyncReplicas \in Nat \ {0}
ASSUME LagLimitIsTicks == LagLimit \in Nat
ASSUME SyncTimeoutPositive == SyncTimeout \in Nat \ {0}
ASSUME BoundsAreNaturals == {MaxWrites, MaxTime, MaxCrashes} \subseteq Nat
ASSUME LinksArePairs == \A l \in CuttableLinks : l \subseteq Nodes /\ Cardinality(l) = 2
ASSUME BugsAreKnown == Bugs \subseteq BugNames

Bug(b) == b \in Bugs

\* The AZ of node n.
Zone(n) == CHOOSE z \in Zones : n \in z

\* The directed links that may be cut: <<a, b>> carries traffic from a to b.
Links == {l \in Nodes \X Nodes : {l[1], l[2]} \in CuttableLinks}

\* Every term has at most one failover before it, and a failover needs a crash.
MaxTerm == MaxCrashes + 1

Statuses == {"pending", "ok", "fail", "info"}

\* A write's record.  status: "pending" (applied, waiting for sync replicas),
\* "ok" (acknowledged), "fail" (rejected cleanly) or "info" (indeterminate);
\* at: the tick it was invoked, which is also when it was applied, if it was;
\* applied: whether the primary appended it to its log; term: the primary's
\* term when it was invoked.
WriteRecords == [status : Statuses, at : 0..MaxTime, applied : BOOLEAN,
                 term : 1..MaxTerm]

\* lagReport before the first report: a report from term 0, which is no term.
NoReport == [at |-> 0, value |-> 0, term |-> 0]

VARIABLES
    now,        \* The clock, in ticks.
    term,       \* The primary's term: 1, plus one per failover.
    primary,    \* The node clients write to.
    up,         \* up[n]: n is running (not crashed).
    log,        \* log[n]: the sequence of write ids n holds; offset = position.
    acked,      \* acked[n]: the offset the primary has seen n acknowledge.
                \* Once acknowledged, always acknowledged: a crash keeps it
                \* (the node keeps its data); only losing the data (a wiped
                \* restart) or a new primary (failover) clears it.
    stale,      \* Nodes whose log the current primary does not extend: they
                \* must rejoin (truncate to the common prefix) before they
                \* replicate again.
    cut,        \* The directed links that drop traffic, a subset of Links.
    writes,     \* writes[w]: the record of write w; ids are 1, 2, ... in
                \* invocation order.
    crashes,    \* How much of the failure budget is spent.
    lagReport   \* The last lag the primary reported: value, at which tick,
                \* in which term.

vars == <<now, term, primary, up, log, acked, stale, cut, writes, crashes, lagReport>>

-----------------------------------------------------------------------------
(* Helpers. *)

Max(S) == CHOOSE m \in S : \A x \in S : x <= m
Min(S) == CHOOSE m \in S : \A x \in S : m <= x

Contains(s, x) == \E i \in 1..Len(s) : s[i] = x

IsPrefix(s, t) == Len(s) <= Len(t) /\ SubSeq(t, 1, Len(s)) = s

\* The length of the longest common prefix of s and t, counted on from k.
RECURSIVE CommonFrom(_, _, _)
CommonFrom(s, t, k) ==
    IF k < Len(s) /\ k < Len(t) /\ s[k + 1] = t[k + 1] THEN CommonFrom(s, t, k + 1) ELSE k

CommonLength(s, t) == CommonFrom(s, t, 0)

\* The longest common prefix of s and t.
CommonPrefix(s, t) == SubSeq(s, 1, CommonLength(s, t))

\* The replicas whose acknowledgements count: those in another AZ than the
\* primary (or, with count-same-az, every replica).
Eligible ==
    {n \in Nodes \ {primary} : Zone(n) # Zone(primary) \/ Bug("count-same-az")}

\* A replica the primary can replicate to and hear from right now.
Connected(n) ==
    /\ up[n]
    /\ n \notin stale
    /\ <<primary, n>> \notin cut
    /\ <<n, primary>> \notin cut

\* The highest offset an eligible replica acknowledged, up or down: a
\* replica that crashed still holds what it acknowledged (acked[n] is
\* cleared when its data is lost, by RestartWiped).
AckedOffset == Max({acked[n] : n \in Eligible} \cup {0})

\* The durability lag: the age of the oldest write in the primary's log that
\* no eligible replica acknowledged, or 0.  An acknowledged write stays
\* acknowledged while the replica holds it, so the crash of a replica does
\* not make the lag count from writes it had acknowledged.
Lag ==
    IF AckedOffset >= Len(log[primary]) THEN 0
    ELSE now - writes[log[primary][AckedOffset + 1]].at

\* The age of the newest such write: what the underreport-lag bug reports, and
\* what the reject-by-newest bug compares with LagLimit.
NewestUnackedAge ==
    IF AckedOffset >= Len(log[primary]) THEN 0
    ELSE now - writes[log[primary][Len(log[primary])]].at

\* The offset of write w in the primary's log (beyond the end if absent).
Offset(w) ==
    IF Contains(log[primary], w)
    THEN CHOOSE i \in 1..Len(log[primary]) : log[primary][i] = w
    ELSE MaxWrites + 1

\* Writes still waiting end indeterminate: the client's connection is gone.
EndPending(ws) ==
    [w \in DOMAIN ws |->
        IF ws[w].status = "pending" THEN [ws[w] EXCEPT !.status = "info"] ELSE ws[w]]

\* The replicas a failover may promote: running and not diverged.
Candidates == {n \in Nodes \ {primary} : up[n] /\ n \notin stale}

-----------------------------------------------------------------------------
(* The initial state: every node up with an empty log, nothing cut. *)

Init ==
    /\ now = 0
    /\ term = 1
    /\ primary = InitPrimary
    /\ up = [n \in Nodes |-> TRUE]
    /\ log = [n \in Nodes |-> <<>>]
    /\ acked = [n \in Nodes |-> 0]
    /\ stale = {}
    /\ cut = {}
    /\ writes = <<>>
    /\ crashes = 0
    /\ lagReport = NoReport

-----------------------------------------------------------------------------
(* Client writes. *)

\* A client invokes the next write on the primary.  The mode decides, from
\* the state alone, whether it is rejected cleanly, acknowledged at once, or
\* applied and left pending until enough replicas acknowledge it.
ClientWrite ==
    /\ Len(writes) < MaxWrites
    /\ up[primary]
    /\ LET w      == Len(writes) + 1
           reject == /\ ~Bug("never-reject")
                     /\ \/ /\ Mode = "sync"
                           /\ Cardinality({n \in Eligible : Connected(n)}) < SyncReplicas
                        \/ /\ Mode = "async"
                           /\ IF Bug("reject-by-newest") THEN NewestUnackedAge > LagLimit
                                                         ELSE Lag > LagLimit
           apply  == ~reject \/ Bug("apply-rejected")
           status == IF reject THEN "fail"
                     ELSE IF Mode = "sync" /\ ~Bug("ack-before-replication")
                          THEN "pending"
                          ELSE "ok"
       IN  /\ writes' = Append(writes, [status |-> status, at |-> now,
                                        applied |-> apply, term |-> term])
           /\ log' = IF apply THEN [log EXCEPT ![primary] = Append(@, w)] ELSE log
    /\ UNCHANGED <<now, term, primary, up, acked, stale, cut, crashes, lagReport>>

\* A pending sync write is acknowledged once K eligible replicas acknowledged
\* its offset.  Only running replicas count: the acknowledgement of a replica
\* that crashed before the write completed does not complete it (the primary
\* waits for replicas it is connected to).
Complete(w) ==
    /\ w \in DOMAIN writes
    /\ writes[w].status = "pending"
    /\ Cardinality({n \in Eligible : up[n] /\ acked[n] >= Offset(w)}) >= SyncReplicas
    /\ writes' = [writes EXCEPT ![w].status = "ok"]
    /\ UNCHANGED <<now, term, primary, up, log, acked, stale, cut, crashes, lagReport>>

\* A pending sync write reaches its timeout: the client gets an error, the
\* outcome is indeterminate, and the write stays applied.
TimeOut(w) ==
    /\ w \in DOMAIN writes
    /\ writes[w].status = "pending"
    /\ now >= writes[w].at + SyncTimeout
    /\ writes' = [writes EXCEPT ![w].status = "info"]
    /\ UNCHANGED <<now, term, primary, up, log, acked, stale, cut, crashes, lagReport>>

-----------------------------------------------------------------------------
(* Replication. *)

\* The primary sends replica n the next entry n lacks, over the link
\* primary -> n.
ReplicateNext(n) ==
    /\ n # primary
    /\ up[n] /\ up[primary]
    /\ n \notin stale
    /\ <<primary, n>> \notin cut
    /\ Len(log[n]) < Len(log[primary])
    /\ log' = [log EXCEPT ![n] = Append(@, log[primary][Len(@) + 1])]
    /\ UNCHANGED <<now, term, primary, up, acked, stale, cut, writes, crashes, lagReport>>

\* skip-entry: the primary sends the entry after the next one instead.
ReplicateSkipping(n) ==
    /\ Bug("skip-entry")
    /\ n # primary
    /\ up[n] /\ up[primary]
    /\ n \notin stale
    /\ <<primary, n>> \notin cut
    /\ Len(log[n]) + 1 < Len(log[primary])
    /\ log' = [log EXCEPT ![n] = Append(@, log[primary][Len(@) + 2])]
    /\ UNCHANGED <<now, term, primary, up, acked, stale, cut, writes, crashes, lagReport>>

\* Replica n tells the primary, over the link n -> primary, the offset it
\* holds.
Acknowledge(n) ==
    /\ n # primary
    /\ up[n] /\ up[primary]
    /\ n \notin stale
    /\ <<n, primary>> \notin cut
    /\ acked[n] < Len(log[n])
    /\ acked' = [acked EXCEPT ![n] = Len(log[n])]
    /\ UNCHANGED <<now, term, primary, up, log, stale, cut, writes, crashes, lagReport>>

\* The primary reports its durability lag (async mode only: the lag is what
\* async promises to bound).
ReportLag ==
    /\ Mode = "async"
    /\ up[primary]
    /\ lagReport' = [at |-> now, term |-> term,
                     value |-> IF Bug("underreport-lag") THEN NewestUnackedAge ELSE Lag]
    /\ UNCHANGED <<now, term, primary, up, log, acked, stale, cut, writes, crashes>>

-----------------------------------------------------------------------------
(* Time. *)

\* The clock advances, but never past the timeout of a pending write: by
\* then it has been acknowledged or has timed out.
Tick ==
    /\ now < MaxTime
    /\ \A w \in DOMAIN writes :
          writes[w].status = "pending" => now < writes[w].at + SyncTimeout
    /\ now' = now + 1
    /\ UNCHANGED <<term, primary, up, log, acked, stale, cut, writes, crashes, lagReport>>

-----------------------------------------------------------------------------
(* Faults. *)

\* Node n crashes; it keeps its data, so what the primary recorded that n
\* acknowledged stays true and keeps counting for the lag (not for a sync
\* write's completion: see Complete).  If n was the primary, its waiting
\* clients lose their connection: their writes end indeterminate.
Crash(n) ==
    /\ up[n]
    /\ crashes < MaxCrashes
    /\ up' = [up EXCEPT ![n] = FALSE]
    /\ writes' = IF n = primary THEN EndPending(writes) ELSE writes
    /\ crashes' = crashes + 1
    /\ UNCHANGED <<now, term, primary, log, acked, stale, cut, lagReport>>

\* Every node of AZ z crashes at once: one failure.  Like Crash, it keeps
\* the nodes' data and their acknowledgements; whether they come back with
\* their data (Restart) or without (RestartWiped, which clears the
\* acknowledgement) is decided node by node when they restart.
AZOutage(z) ==
    /\ \E n \in z : up[n]
    /\ crashes < MaxCrashes
    /\ up' = [n \in Nodes |-> up[n] /\ n \notin z]
    /\ writes' = IF primary \in z THEN EndPending(writes) ELSE writes
    /\ crashes' = crashes + 1
    /\ UNCHANGED <<now, term, primary, log, acked, stale, cut, lagReport>>

\* Node n comes back with its data.
Restart(n) ==
    /\ ~up[n]
    /\ up' = [up EXCEPT ![n] = TRUE]
    /\ UNCHANGED <<now, term, primary, log, acked, stale, cut, writes, crashes, lagReport>>

\* Node n comes back without its data, as an empty replica.  A primary that
\* lost its data never serves again as primary: it must be failed over first.
\* What n acknowledged no longer holds, so it stops counting for the lag: an
\* acknowledgement counts only while the node holds the acknowledged writes.
RestartWiped(n) ==
    /\ ~up[n]
    /\ n # primary
    /\ up' = [up EXCEPT ![n] = TRUE]
    /\ log' = [log EXCEPT ![n] = <<>>]
    /\ acked' = [acked EXCEPT ![n] = 0]
    /\ stale' = stale \ {n}
    /\ UNCHANGED <<now, term, primary, cut, writes, crashes, lagReport>>

\* The link a -> b drops traffic.
Cut(a, b) ==
    /\ <<a, b>> \in Links \ cut
    /\ cut' = cut \cup {<<a, b>>}
    /\ UNCHANGED <<now, term, primary, up, log, acked, stale, writes, crashes, lagReport>>

\* The link a -> b passes traffic again.
Heal(a, b) ==
    /\ <<a, b>> \in cut
    /\ cut' = cut \ {<<a, b>>}
    /\ UNCHANGED <<now, term, primary, up, log, acked, stale, writes, crashes, lagReport>>

\* The primary is down: the controller promotes n, a candidate with the
\* longest log (with promote-stale: any candidate).  Nodes whose log the new
\* primary does not extend are stale until they rejoin; the new primary has
\* heard no acknowledgement yet.
Failover(n) ==
    /\ ~up[primary]
    /\ n \in Candidates
    /\ \/ \A m \in Candidates : Len(log[m]) <= Len(log[n])
       \/ Bug("promote-stale")
    /\ primary' = n
    /\ term' = term + 1
    /\ stale' = {m \in Nodes \ {n} : ~IsPrefix(log[m], log[n])}
    /\ acked' = [m \in Nodes |-> 0]
    /\ UNCHANGED <<now, up, log, cut, writes, crashes, lagReport>>

\* A stale node (typically the old primary, back with its data) rejoins: it
\* discards every entry the primary does not have.
Rejoin(n) ==
    /\ n \in stale
    /\ up[n] /\ up[primary]
    /\ <<primary, n>> \notin cut
    /\ log' = [log EXCEPT ![n] = CommonPrefix(@, log[primary])]
    /\ stale' = stale \ {n}
    /\ UNCHANGED <<now, term, primary, up, acked, cut, writes, crashes, lagReport>>

-----------------------------------------------------------------------------

Next ==
    \/ ClientWrite
    \/ \E w \in 1..MaxWrites : Complete(w)
    \/ \E w \in 1..MaxWrites : TimeOut(w)
    \/ \E n \in Nodes : \/ ReplicateNext(n) \/ ReplicateSkipping(n) \/ Acknowledge(n)
                        \/ Crash(n) \/ Restart(n) \/ RestartWiped(n)
                        \/ Failover(n) \/ Rejoin(n)
    \/ \E z \in Zones : AZOutage(z)
    \/ \E a, b \in Nodes : Cut(a, b) \/ Heal(a, b)
    \/ ReportLag
    \/ Tick

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* The invariants. *)

TypeOK ==
    /\ now \in 0..MaxTime
    /\ term \in 1..MaxTerm
    /\ primary \in Nodes
    /\ up \in [Nodes -> BOOLEAN]
    /\ log \in [Nodes -> Seq(1..Len(writes))]
    /\ \A n \in Nodes : Len(log[n]) <= MaxWrites
    /\ acked \in [Nodes -> 0..MaxWrites]
    /\ stale \subseteq Nodes
    /\ cut \subseteq Links
    /\ writes \in Seq(WriteRecords)
    /\ Len(writes) <= MaxWrites
    /\ crashes \in 0..MaxCrashes
    /\ lagReport \in [at : 0..MaxTime, value : 0..MaxTime, term : 0..MaxTerm]

\* Write w is on the primary (down or not: a down primary still holds it).
Survives(w) == Contains(log[primary], w)

\* Acknowledged writes the primary does not hold: lost in a failover.
Lost == {w \in DOMAIN writes : writes[w].status = "ok" /\ ~Survives(w)}

\* sync: every acknowledged write survives (the failure budget is one crash
\* or one AZ outage; MC.tla assumes it).
AckedWritesSurvive ==
    Mode = "sync" => Lost = {}

\* async: the acknowledged writes lost span at most LagLimit ticks, from the
\* earliest acknowledgement to the latest invocation among them (in async a
\* write is acknowledged the tick it is invoked).
LossWindowBounded ==
    Mode = "async" /\ Lost # {} =>
        Max({writes[w].at : w \in Lost}) - Min({writes[w].at : w \in Lost}) <= LagLimit

\* Surviving writes of a term form a prefix of it: if a write survives, every
\* earlier acknowledged write of the same term survives too.
NoHoles ==
    \A w1, w2 \in DOMAIN writes :
        /\ w1 < w2
        /\ writes[w1].term = writes[w2].term
        /\ writes[w1].status = "ok"
        /\ Survives(w2)
        => Survives(w1)

\* A cleanly rejected write is on no node.
RejectedWritesNotApplied ==
    \A w \in DOMAIN writes :
        writes[w].status = "fail" => \A n \in Nodes : ~Contains(log[n], w)

\* A lag reported at tick t, before the failover that lost write w, is at
\* least the age at t of w if w was acknowledged by t.
LagMetricNotUnderreported ==
    lagReport.term \in 1..(term - 1) =>
        \A w \in Lost :
            writes[w].at <= lagReport.at =>
                lagReport.value >= lagReport.at - writes[w].at

=============================================================================
