"""The effects of a migration's change of state, decided without a store: the rules every
adapter applies (claim renewed and shrunk while active, released once ended, the target's
generation moved whenever what its claims hold changes)."""

from datetime import timedelta

from hub.migration import effects
from hub.models.api import Migration, State, Task, TaskVm, VmPhase
from hub.models.claim import Claim, ClaimShare
from tests.support.builders import NOW

LATER = NOW + timedelta(minutes=20)


def _claim() -> Claim:
    shares = {vm: ClaimShare(node="w1") for vm in ("shop/web", "shop/db")}
    return Claim(
        id="claim-1", cluster="west", expires_at=NOW + timedelta(minutes=15), shares=shares
    )


def _pair(state: State, *migrated: str) -> tuple[Migration, Task]:
    vms = tuple(
        TaskVm.model_construct(vm=vm, phase=VmPhase.MIGRATED if vm in migrated else VmPhase.PENDING)
        for vm in ("shop/web", "shop/db")
    )
    migration = Migration.model_construct(id="mig-1", state=state, target_cluster="west")
    return migration, Task.model_construct(id="task-1", state=state, vms=vms)


def test_an_active_migration_without_news_leaves_its_claim_and_the_target_alone() -> None:
    done = effects.of(*_pair(State.RUNNING), _claim(), NOW)
    assert (done.claim, done.release, done.bump, done.ended) == (None, None, None, False)


def test_progress_renews_the_claim_without_moving_the_targets_generation() -> None:
    done = effects.of(*_pair(State.RUNNING), _claim(), NOW, renew_until=LATER)
    assert done.claim is not None
    assert done.claim.expires_at == LATER
    assert done.bump is None
    assert done.release is None


def test_a_vm_that_landed_shrinks_the_claim_and_moves_the_targets_generation() -> None:
    done = effects.of(*_pair(State.RUNNING, "shop/web"), _claim(), NOW)
    assert done.claim is not None
    assert done.claim.shares["shop/web"].landed_at == NOW
    assert done.claim.shares["shop/db"].landed_at is None
    assert done.bump == "west"


def test_a_landing_already_recorded_is_not_recorded_again() -> None:
    landed = _claim().landed(["shop/web"], NOW - timedelta(minutes=1))
    done = effects.of(*_pair(State.RUNNING, "shop/web"), landed, NOW)
    assert done.claim is None
    assert done.bump is None


def test_an_ended_migration_releases_its_claim_for_the_state_it_ended_in() -> None:
    for state in (State.FINISHED, State.FAILED, State.CANCELLED):
        done = effects.of(*_pair(state), _claim(), NOW)
        assert (done.release, done.bump, done.ended) == (state.value, "west", True)


def test_an_ended_migration_whose_claim_already_went_frees_its_vms_only() -> None:
    done = effects.of(*_pair(State.FAILED), None, NOW)
    assert (done.release, done.bump, done.ended) == (None, None, True)
