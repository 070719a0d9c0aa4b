//! The models' additive noise (spec §1.9, §2.3), drawn from the run's Rust generator (D8).

use mpg_envs::{Rng, Task};
use rand::Rng as _;
use rand_distr::StandardNormal;
use tch::{Device, Kind, Tensor};

/// Gaussian noise N(mean, std²) added to one state variable per sample per model step:
/// Δy for path tracking (spec §1.9), the cart position p for the pendulum (spec §2.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelNoise {
    pub mean: f64,
    pub std: f64,
}

impl ModelNoise {
    /// No noise at all (mean 0, std 0).
    pub const NONE: ModelNoise = ModelNoise {
        mean: 0.0,
        std: 0.0,
    };
    /// Path tracking: ε ~ N(0.5, 0.01²) on Δy per 0.1 s step (spec §1.9).
    pub const PATH_TRACKING: ModelNoise = ModelNoise {
        mean: 0.5,
        std: 0.01,
    };
    /// Pendulum: ε ~ N(0.1, 0.5²) on p per 0.04 s step (spec §2.3).
    pub const PENDULUM: ModelNoise = ModelNoise {
        mean: 0.1,
        std: 0.5,
    };

    /// The authors' noise of `task`'s model.
    pub fn default_for(task: Task) -> ModelNoise {
        match task {
            Task::PathTracking => Self::PATH_TRACKING,
            Task::InvertedPendulum => Self::PENDULUM,
        }
    }

    /// The noise's mean with its spread removed (the golden data's setting).
    pub fn mean_only(self) -> ModelNoise {
        ModelNoise { std: 0.0, ..self }
    }

    /// `batch` independent draws on the CPU, in `kind`. See [`ModelNoise::draw_on`].
    pub fn draw(&self, rng: &mut Rng, batch: usize, kind: Kind) -> Tensor {
        self.draw_on(rng, batch, kind, Device::Cpu)
    }

    /// `batch` independent draws `mean + std·z`, `z ~ N(0, 1)` from `rng` (never libtorch's
    /// generator, D8), as a `[batch]` tensor of `kind` on `device`. With `std == 0` every
    /// value is exactly `mean` and `rng` is not advanced.
    pub fn draw_on(&self, rng: &mut Rng, batch: usize, kind: Kind, device: Device) -> Tensor {
        let values: Vec<f64> = if self.std == 0.0 {
            vec![self.mean; batch]
        } else {
            (0..batch)
                .map(|_| self.mean + self.std * rng.sample::<f64, _>(StandardNormal))
                .collect()
        };
        Tensor::from_slice(&values).to_kind(kind).to_device(device)
    }
}
