--------------------------------- MODULE MC ---------------------------------
(***************************************************************************)
(* The module TLC checks.  Each *.cfg file in this directory sets the      *)
(* constants of Durability (see specs/README.md for the list) and names    *)
(* the invariants; this wrapper adds what holds for model checking only.   *)
(***************************************************************************)
EXTENDS Durability

\* The promises speak of a single failure (one node or one AZ) followed by a
\* failover; with a larger budget a second failure may legitimately lose
\* acknowledged writes, so no configuration checks the promises beyond it.
ASSUME PromisesCoverOneFailure == MaxCrashes <= 1

=============================================================================
