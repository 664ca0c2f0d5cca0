"""The viewer as a person sees it: a saved run opened in headless Chromium (Debian `chromium` and
`chromium-driver`, driven by selenium with the system driver; no driver download)."""

import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.color import Color  # noqa: E402

from sparkrl.viz.viewer import write_viewer  # noqa: E402

from tests.viz.runs import INJECTED, make_run  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or next(
    (path for path in ("/usr/bin/chromedriver",) if Path(path).exists()), None
)
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver not installed"
)

EXPLORE_BORDER, EXPLORE_BACKGROUND = "#e67700", "#fff1db"
OUTCOME_BORDERS = {"won": "#2f9e44", "truncated": "#1c7ed6", "lost": "#e03131"}


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("viewer") / "run", iterations=2)
    return write_viewer(run).resolve().as_uri()


@pytest.fixture
def page(browser, page_url):
    browser.get(page_url)
    return browser


def press(driver, key):
    ActionChains(driver).send_keys(key).perform()


def selected_node(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".node.selected").get_attribute("id")


def colour(element, name):
    return Color.from_string(element.value_of_css_property(name)).hex


def test_tasks_statistics_and_colours(page):
    rows = page.find_elements(By.CSS_SELECTOR, "#task-rows tr")
    assert len(rows) == 3 and "task-a-2" in rows[0].text and "selected" in rows[0].get_attribute("class")
    assert page.find_element(By.ID, "stat-forks").text == "forks 1"
    assert page.find_element(By.ID, "stat-leaves").text == "leaves 3"
    assert page.find_element(By.ID, "stat-depth").text == "depth 4"
    explore = page.find_element(By.ID, "node-1")
    assert "mode-explore" in explore.get_attribute("class")
    assert colour(explore, "border-top-color") == EXPLORE_BORDER
    assert colour(explore, "background-color") == EXPLORE_BACKGROUND
    for node_id, outcome in ((3, "won"), (5, "truncated"), (7, "lost")):
        leaf = page.find_element(By.ID, f"node-{node_id}")
        assert f"outcome-{outcome}" in leaf.get_attribute("class")
        assert colour(leaf, "border-top-color") == OUTCOME_BORDERS[outcome]
    assert "explore" in page.find_element(By.ID, "node-1").text and "open drawer 1" in explore.text
    assert not [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]


def test_click_shows_the_step(page):
    page.find_element(By.ID, "node-4").click()
    assert selected_node(page) == "node-4"
    assert page.find_element(By.ID, "detail-observation").text == "observation of node 4"
    assert page.find_element(By.ID, "detail-action").text == "go to shelf 1"
    assert "reason 4" in page.find_element(By.ID, "detail-response").text


def test_arrow_keys_walk_the_tree_and_letters_switch_tasks(page):
    assert selected_node(page) == "node-0"
    for key, expected in ((Keys.ARROW_DOWN, 1), (Keys.ARROW_DOWN, 2), (Keys.ARROW_RIGHT, 4), (Keys.ARROW_UP, 1),
                          (Keys.ARROW_UP, 0), (Keys.ARROW_RIGHT, 6), (Keys.ARROW_LEFT, 0)):
        press(page, key)
        assert selected_node(page) == f"node-{expected}"
    press(page, "j")
    assert "selected" in page.find_elements(By.CSS_SELECTOR, "#task-rows tr")[1].get_attribute("class")
    assert "invalid" in page.find_element(By.ID, "node-1").get_attribute("class")
    press(page, "k")
    assert page.find_element(By.ID, "forest-title").text.startswith("task-a-2")
    press(page, "[")
    assert "iteration 1" in page.find_element(By.ID, "forest-title").text


def test_collapse_and_expand(page):
    page.find_element(By.ID, "node-1").click()
    page.find_element(By.CSS_SELECTOR, "#node-1 .toggle").click()
    assert not page.find_elements(By.ID, "node-2")
    assert "+4" in page.find_element(By.ID, "node-1").text
    press(page, Keys.ENTER)
    assert page.find_elements(By.ID, "node-2") and page.find_elements(By.ID, "node-5")


def test_observation_markup_is_shown_as_text_not_run(page):
    page.find_element(By.ID, "node-6").click()
    assert page.find_element(By.ID, "detail-observation").text == INJECTED
    assert page.execute_script("return window.injected === undefined")
    assert not page.find_elements(By.CSS_SELECTOR, "#details img, #details script")


def test_control_characters_are_drawn_visibly(page):
    page.find_element(By.ID, "node-7").click()
    assert page.find_element(By.ID, "detail-action").text == "inventory\u2407"
