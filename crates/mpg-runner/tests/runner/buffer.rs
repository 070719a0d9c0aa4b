//! The replay buffer, filled by hand (observation = index).

use mpg_envs::Rng;
use mpg_runner::buffer::ReplayBuffer;
use rand::SeedableRng;

fn filled(capacity: usize, count: usize) -> ReplayBuffer {
    let mut b = ReplayBuffer::new(capacity, 2, 1, Rng::seed_from_u64(3));
    for i in 0..count {
        let x = i as f32;
        b.push(
            &[x, -x],
            &[x * 10.0],
            x + 0.5,
            &[x + 1.0, -x - 1.0],
            i % 3 == 0,
        );
    }
    b
}

#[test]
fn samples_are_whole_transitions_of_stored_indices() {
    let mut b = filled(100, 50);
    assert_eq!(b.len(), 50);
    let batch = b.sample(400);
    let (obs, act, rew) = (&batch.obs, &batch.act, &batch.rew);
    let (next, done) = (&batch.next_obs, &batch.done);
    assert_eq!((batch.obs_dim, batch.act_dim, batch.len()), (2, 1, 400));
    let mut seen = std::collections::HashSet::new();
    for k in 0..400 {
        let i = obs[2 * k];
        assert!((0.0..50.0).contains(&i) && i.fract() == 0.0);
        assert_eq!(obs[2 * k + 1], -i);
        assert_eq!(act[k], i * 10.0);
        assert_eq!(rew[k], i + 0.5);
        assert_eq!(next[2 * k], i + 1.0);
        assert_eq!(
            done[k],
            if (i as usize).is_multiple_of(3) {
                1.0
            } else {
                0.0
            }
        );
        seen.insert(i as usize);
    }
    // uniform with replacement over 50: 400 draws see nearly all indices, and repeat some
    assert!(seen.len() >= 45, "{}", seen.len());
    assert!(seen.len() < 400);
}

#[test]
fn full_ring_overwrites_the_oldest() {
    let mut b = filled(10, 25);
    assert_eq!(b.len(), 10);
    assert_eq!(b.added, 25);
    let batch = b.sample(500);
    let obs = &batch.obs;
    let kept: std::collections::BTreeSet<i64> = obs.iter().step_by(2).map(|&x| x as i64).collect();
    assert_eq!(kept, (15..25).collect(), "only the newest 10 remain");
}

#[test]
fn sampling_is_seeded() {
    let a = filled(100, 60).sample_indices(20);
    let b = filled(100, 60).sample_indices(20);
    assert_eq!(a, b);
    let mut other = ReplayBuffer::new(100, 2, 1, Rng::seed_from_u64(4));
    for i in 0..60 {
        other.push(&[i as f32, 0.0], &[0.0], 0.0, &[0.0, 0.0], false);
    }
    assert_ne!(a, other.sample_indices(20));
}

#[test]
fn save_and_load_continue_exactly_and_reject_damage() {
    let mut a = filled(10, 23);
    let mut bytes = Vec::new();
    a.write_to(&mut bytes).unwrap();
    let mut b = ReplayBuffer::read_from(&mut bytes.as_slice()).unwrap();
    assert_eq!(a, b);
    a.push(&[1.0, 1.0], &[1.0], 1.0, &[1.0, 1.0], false);
    b.push(&[1.0, 1.0], &[1.0], 1.0, &[1.0, 1.0], false);
    assert_eq!(a.sample_indices(30), b.sample_indices(30));
    assert_eq!(a, b);
    let cut = &bytes[..bytes.len() - 3];
    assert!(
        ReplayBuffer::read_from(&mut &cut[..]).is_err(),
        "truncated file refused"
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(
        ReplayBuffer::read_from(&mut longer.as_slice()).is_err(),
        "trailing bytes refused"
    );
    assert!(ReplayBuffer::read_from(&mut &b"not a buffer at all"[..]).is_err());
}
