"""Every threshold and weight of the evidence tests and of the evidence builder, in one table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Every threshold and weight of the ranking, in one place.

    Learning-rate ranges are ``(low, high)`` per optimizer family: a rate below ``low`` counts as low,
    above ``high`` as high, and ``lr_far_factor`` times beyond either bound as far off. The Adam range
    follows the seeds (5e-3 oscillated, 1e-3 was the working value, 1e-5 trained for 1500 epochs).
    Positions in the run are ``onset_fraction`` values (0 = first point, 1 = last point).
    """

    lr_range_adam: tuple[float, float] = (1e-5, 3e-3)  # adam, adamw, nadam, adamax, radam, lamb
    lr_range_sgd: tuple[float, float] = (1e-4, 0.5)  # sgd, momentum, nesterov
    # Effective SGD rate lr / (1 - momentum): plain SGD 1e-3..2, momentum 0.9 gives 1e-4..0.2 on the
    # configured lr (0.1 with momentum 0.9 is the ResNet recipe, inside).
    lr_range_sgd_effective: tuple[float, float] = (1e-3, 2.0)
    lr_absurd: float = 5.0  # no common optimizer trains at a rate of 5 or more: strong evidence whatever the optimizer
    lr_range_other: tuple[float, float] = (1e-5, 0.3)  # unknown or other optimizer (half weight)
    lr_far_factor: float = 10.0
    lr_flat_ratio: float = 1.01  # logged lr max/min below this: the schedule was flat
    lr_decayed_ratio: float = 2.0  # lr fell at least this much before the onset: it was decayed
    lr_change_window: int = 3  # lr points either side of the onset searched for a schedule step
    lr_change_rel: float = 0.05  # relative lr change that counts as a schedule step
    early_fraction: float = 0.15  # onset before 15% of the run: early
    late_fraction: float = 0.5  # onset after half of the run: late
    after_start_fraction: float = 0.3  # onset after 30% of the run: not a start-of-training problem
    lr_jump_ratio: float = 3.0  # the lr multiplied by 3 or more just before the onset: strong evidence
    mid_fraction: tuple[float, float] = (0.1, 0.6)  # "after the fast first descent"
    long_run_epochs: float = 200.0  # a long run for Adam's v_t to decay (the seed ran 1500 epochs)
    long_run_steps: int = 100_000
    short_run_epochs: float = 20.0
    batch_small: int = 16  # the seed's unstable example used 8
    batch_smallish: int = 32
    batch_noise_free: int = 256  # batches this big argue against gradient noise
    batch_large: int = 512  # batches this big may generalize worse
    batch_not_large: int = 64
    severe_ratio: float = 10.0  # after/before ratio of a jump that counts as severe
    severe_zscore: float = 10.0
    chance_rel_tol: float = 0.1  # loss within 10% of ln(C)
    chance_abs_tol: float = 0.02  # accuracy within 0.02 of the chance level
    majority_margin: float = 0.05  # accuracy this far above chance, yet collapsed: a majority class
    weight_decay_strong: float = 1e-2  # coupled L2 / SGD weight decay
    weight_decay_strong_decoupled: float = 0.2  # AdamW-style decoupled weight decay
    dropout_strong: float = 0.5
    data_time_high: float = 0.3  # data_time / time at or above this: input-bound
    data_time_low: float = 0.1  # at or below this: compute-bound
    memory_growth: float = 1.2  # last-quarter / first-quarter memory at or above this: growing
    memory_flat: float = 1.05
    # The run's own schedule (signals lr_vs_peak, lr_raised_before, lr_cut_before_plateau):
    lr_near_peak: float = 0.5  # lr at onset >= half the run's peak: the event happened near the top rate
    lr_far_below_peak: float = 0.1  # lr at onset <= a tenth of the peak: the schedule had already cut it hard
    lr_raise_factor: float = 2.0  # a jump up of 2x or more after a constant stretch is a raise, not noise
    lr_reduced_rel: float = 0.05  # the lr 5% or more below its peak after the peak: the schedule reduced it
    lr_cut_total_low: float = 30.0  # peak / lr at onset >= 30 (1.5 orders of magnitude): cut to a crawl before the plateau
    # The start of training (signal loss_start_high): an untrained classifier starts near ln(C); an
    # initial loss several times that means badly scaled inputs or weights, not a slow optimizer.
    loss_start_factor: float = 3.0
    loss_start_absolute: float = 20.0  # classes unknown: 3 x ln(1000)
    # Adam's epsilon (signal adam_eps): 1e-8 is the default of torch and Keras 3 (Keras 2: 1e-7); the
    # seed document's fix raised it to 1e-3..1e-2, so a value >= 1e-4 already bounds the step.
    eps_default_max: float = 1e-7
    eps_large: float = 1e-4
    # Isolated events (signal isolated_event): a single transient on the training curve points at one
    # bad batch; a too-coarse step size or small batches would keep producing them.
    isolated_max: int = 1
    # A one-step jump this many noise units high (or severe_ratio times the level) that recovers comes
    # from one unusual batch; too coarse a step or small batches make swings of a few noise units.
    sharp_zscore: float = 20.0
    # A frozen model (signals frozen_above_chance, not_frozen_above_chance): metrics pinned at a level
    # a constant output cannot reach: accuracy 0.2 above chance (0.6 when the classes are unknown, above
    # the chance of any balanced task), or a loss below 60% of ln(C).
    frozen_margin: float = 0.2
    frozen_score_floor: float = 0.6
    frozen_loss_share: float = 0.6
    # Too small steps (signal slow_steady_descent): the loss falls at 80% of the points but by less than
    # 10% of its start over the whole run.
    slow_drop: float = 0.1
    steady_share: float = 0.8
    # The validation curve (signals val_step_change, val_gradual): overfitting raises the validation
    # loss over many evaluations; a shift in the validation data raises it at once. Half the rise in one
    # evaluation counts as a step.
    val_step_share: float = 0.5
    # Label noise (signals worse_before_fit, fit_before_worse): validation turning worse while the
    # training loss is still above half its start (at the third logged point or later), after which it
    # falls to a fifth of that, means the model memorizes what does not generalize.
    unfit_share: float = 0.5
    memorize_share: float = 0.2  # ... and the training loss then falls to a fifth of that: it memorizes
    # A penalty at work (signals loss_creeps_up, loss_not_creeping_up): gradient steps on the data loss
    # do not raise it on average; a stagnating training loss that ends 2% above its start, falling at
    # under half of the points, is being pulled back by a penalty (weight decay / L2).
    creep_rise: float = 0.02
    creep_falling_share: float = 0.5
    # The train/validation gap at the end (signal small_gap): within 20% means nothing is left to
    # generalize (an underfitting model); twice the training loss or more is a fitted-but-not-general model.
    gap_small: float = 1.2
    gap_large: float = 2.0
    # Periodicity (signal epoch_periodic): class-sorted or unshuffled data repeat the same batch order
    # every epoch, so the swing's period divides the epoch; 15% slack for rounding of the period.
    period_tol: float = 0.15
    # Ties (Finding.undecided): leading causes within this score of each other are not told apart.
    undecided_margin: float = 0.1
    # Weights: a prior is at most 1.0, so a strong test (0.5) can lift a cause over one prior step of
    # another kind's ordering (priors differ by 0.1-0.3); two strong tests (a 10x lr jump before the
    # onset) outweigh any prior gap. Weak tests (0.15) only break near-ties between priors.
    w_strong: float = 0.5  # score deltas
    w: float = 0.3
    w_weak: float = 0.15


TH = Thresholds()
