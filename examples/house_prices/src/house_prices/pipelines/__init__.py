"""Training fits a linear model of the price; inference prices new houses."""

from kedro.pipeline import Pipeline, node

from house_prices.pipelines.nodes import design_matrix, fit_regressor, predict_prices


def training_pipeline() -> Pipeline:
    return Pipeline(
        [node(fit_regressor, ["houses", "params:features"], "regressor", name="fit_regressor")]
    )


def inference_pipeline() -> Pipeline:
    return Pipeline(
        [
            node(
                design_matrix,
                ["houses", "regressor"],
                "design",
                name="design_matrix",
            ),
            node(
                predict_prices,
                ["design", "regressor", "params:price_bands"],
                "predictions",
                name="predict_prices",
            ),
        ]
    )
