"""The dashboard in a real browser: headless Chromium driven by Selenium on a live 2-instance fleet.

What only a browser shows: the page script turning action links into POST requests (answered by a 301 carrying the
message), the live updates replacing the page parts without reload, and the style sheet actually applied.
Screenshots are saved as test artefacts in $SUPVISORS_ARTIFACTS (default: <repo>/test-artifacts).
Skipped when Chromium, chromedriver or Selenium are missing.
"""

import inspect
import os
import shutil
from typing import Any, Callable, Iterator, Optional

import pytest

from supvisors.tools.localfleet import LocalFleet, wait_for

from .helpers import operational_fleet

pytestmark = pytest.mark.e2e

APPLICATION = 'webapp'
PROGRAMS = """
[group:webapp]
programs=web_front,web_back

[program:web_front]
command=sleep 1000
startsecs=0
autostart=false

[program:web_back]
command=sleep 1000
startsecs=0
autostart=false
"""
RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="webapp">
        <programs>
            <program pattern="^web_"><start_sequence>1</start_sequence><expected_loading>5</expected_loading></program>
        </programs>
    </application>
</root>
"""

CHROMIUM_CANDIDATES = ('/usr/bin/chromium', 'chromium', 'chromium-browser')
CHROMEDRIVER_CANDIDATES = ('/usr/bin/chromedriver', 'chromedriver')
CHROMIUM_ARGUMENTS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                      '--disable-background-networking', '--disable-component-update', '--disable-sync',
                      '--disable-dev-shm-usage', '--window-size=1400,900')
TIMEOUT = 30  # seconds for any browser-visible outcome
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# the state cell of a process row (found by process name) in the contents of the page
STATE_OF_PROCESS_JS = """
const states = ['STOPPED', 'STARTING', 'RUNNING', 'BACKOFF', 'STOPPING', 'EXITED', 'FATAL', 'UNKNOWN'];
for (const row of document.querySelectorAll('#contents tr')) {
    const name = row.querySelector('td');
    if (!name || !row.textContent.includes(arguments[0])) { continue; }
    for (const cell of row.querySelectorAll('td')) {
        if (states.some(state => cell.classList.contains(state))) { return cell.textContent.trim(); }
    }
}
return null;
"""


def _find(candidates) -> Optional[str]:
    for candidate in candidates:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope='module')
def artifacts() -> str:
    path = os.environ.get('SUPVISORS_ARTIFACTS') or os.path.join(REPO, 'test-artifacts')
    os.makedirs(path, exist_ok=True)
    return path


def make_driver(user_data_dir: str, javascript: bool = True) -> Any:
    """ A headless Chromium, or a skip saying what is missing. """
    chromium = _find(CHROMIUM_CANDIDATES)
    chromedriver = _find(CHROMEDRIVER_CANDIDATES)
    if chromium is None or chromedriver is None:
        pytest.skip(f'headless browser test needs chromium and chromedriver (found: {chromium}, {chromedriver})')
    webdriver = pytest.importorskip('selenium.webdriver', reason='headless browser test needs selenium')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f'--user-data-dir={user_data_dir}')
    if not javascript:
        options.add_experimental_option('prefs', {'profile.managed_default_content_settings.javascript': 2})
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


@pytest.fixture(scope='module')
def browser(tmp_path_factory) -> Iterator[Any]:
    driver = make_driver(str(tmp_path_factory.mktemp('chromium')))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope='module')
def fleet(browser, tmp_path_factory) -> Iterator[LocalFleet]:
    """ Two instances in OPERATION, the application stopped (built after the browser: no fleet when skipped). """
    fleet = LocalFleet(2, str(tmp_path_factory.mktemp('browser')), programs=PROGRAMS, rules=RULES)
    with operational_fleet(fleet):
        yield fleet


@pytest.fixture(autouse=True)
def failure_evidence(request, artifacts) -> Iterator[None]:
    """ On failure, the screenshot and the source of the page shown, next to the other artefacts. """
    yield
    report = getattr(request.node, 'rep_call', None)
    if report is None or not report.failed or 'browser' not in inspect.signature(request.function).parameters:
        return  # only the tests showing their pages in the shared browser
    driver = request.getfixturevalue('browser')
    name = f'failure_{request.node.name}'
    try:
        driver.save_screenshot(os.path.join(artifacts, f'{name}.png'))
        with open(os.path.join(artifacts, f'{name}.html'), 'w', encoding='utf-8') as stream:
            stream.write(driver.page_source)
    except Exception as exc:  # noqa: BLE001 - evidence is best effort
        print(f'no failure evidence: {exc}')


# ------------------------------------------------------------------ helpers
def eventually(driver, predicate: Callable[[Any], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """ Wait for a browser-side condition; the message says what was expected and what the page showed. """
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        # live updates replace parts of the page: an element found just before may be gone, so try again
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(predicate)
    except TimeoutException:
        message = driver.execute_script("const m = document.getElementById('message');"
                                        "return m ? m.className + ': ' + m.textContent : null;")
        pytest.fail(f'timeout after {timeout}s waiting for {what}; url={driver.current_url}; message={message}')


def message_of(driver) -> tuple:
    """ Class and text of the message box, read in one script so that a live update cannot interleave. """
    value = driver.execute_script("const m = document.getElementById('message');"
                                  "return m ? [m.className, m.textContent.trim()] : [null, null];")
    return tuple(value)


def screenshot(driver, artifacts: str, name: str) -> str:
    path = os.path.join(artifacts, name)
    assert driver.save_screenshot(path), f'screenshot {path} not saved'
    with open(path, 'rb') as stream:
        assert stream.read(8) == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG file'
    assert os.path.getsize(path) > 1000, f'{path} is suspiciously small'
    return path


def script_errors(driver) -> list:
    """ Errors reported by the page scripts (network noise excluded). """
    return [entry for entry in driver.get_log('browser')
            if entry.get('level') == 'SEVERE' and entry.get('source') == 'javascript']


def application_state(fleet: LocalFleet) -> str:
    return fleet['s1'].rpc().supvisors.get_application_info(APPLICATION)['statename']


def process_states(fleet: LocalFleet) -> dict:
    return {info['process_name']: info['statename']
            for info in fleet['s1'].rpc().supvisors.get_all_process_info()
            if info['application_name'] == APPLICATION}


def ensure_stopped(fleet: LocalFleet) -> None:
    """ Each test starts from the application stopped, whatever the previous one left. """
    if application_state(fleet) != 'STOPPED':
        fleet['s1'].rpc().supvisors.stop_application(APPLICATION, True)
    wait_for(lambda: application_state(fleet) == 'STOPPED', timeout=20, what='the application STOPPED')


def state_in_page(driver, process_name: str) -> Optional[str]:
    return driver.execute_script(STATE_OF_PROCESS_JS, process_name)


def open_application_page(driver, fleet: LocalFleet) -> None:
    """ Through the menu link of the main page, as a user would. """
    from selenium.webdriver.common.by import By
    driver.get(f'{fleet["s1"].url}/index.html')
    xpath = f'//div[@id="menu"]//ul[@class="applications"]//a[normalize-space()="{APPLICATION}"]'
    eventually(driver, lambda d: click_now(d.find_element(By.XPATH, xpath)), f'the menu link of {APPLICATION}')
    eventually(driver, lambda d: 'application.html' in d.current_url
               and d.find_element(By.ID, 'header').text.startswith(APPLICATION), 'the application page')


def click_now(element) -> bool:
    """ Click an element found in the same attempt (a live update may replace it: eventually tries again). """
    element.click()
    return True


def click_action(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    def click(d) -> bool:
        button = d.find_element(By.LINK_TEXT, label)
        assert 'action=' in button.get_attribute('href')
        return click_now(button)
    eventually(driver, click, f'the button {label}')


# ------------------------------------------------------------------ tests
def test_main_page(browser, fleet, artifacts):
    """ The instance boxes are rendered with the style sheet and the page script runs without error. """
    from selenium.webdriver.common.by import By
    browser.get(f'{fleet["s1"].url}/index.html')
    texts = eventually(browser, lambda d: [box.text for box in d.find_elements(By.CSS_SELECTOR,
                                                                              '#contents .instance_box')]
                       if len(d.find_elements(By.CSS_SELECTOR, '#contents .instance_box')) == 2 else None,
                       'two instance boxes')
    assert any('s1' in text for text in texts) and any('s2' in text for text in texts), texts
    assert all('RUNNING' in text for text in texts), texts
    # the style sheet is applied: dark background, green RUNNING state
    assert browser.execute_script('return getComputedStyle(document.body).backgroundColor') == 'rgb(5, 37, 37)'
    colour = browser.execute_script("return getComputedStyle(document.querySelector('#contents .RUNNING.state'))"
                                    ".backgroundColor")
    assert colour == 'rgb(63, 181, 107)', colour
    assert browser.execute_script("return document.querySelector('link[rel=icon]').href").endswith('supvisors.svg')
    screenshot(browser, artifacts, 'browser_main_page.png')
    assert not script_errors(browser)


def test_application_start_stop(browser, fleet, artifacts):
    """ The action buttons are posted (wait=True: the answer is a 301 once done) and show the result message. """
    ensure_stopped(fleet)
    open_application_page(browser, fleet)
    # start: the page posts the action, the server answers when the application is started
    click_action(browser, 'Start the application')
    eventually(browser, lambda d: f'Application {APPLICATION} started' in message_of(d)[1],
               'the message of the start action')
    assert message_of(browser)[0] == 'info'
    assert 'message=' in browser.current_url and 'action=' not in browser.current_url
    assert application_state(fleet) == 'RUNNING'
    assert process_states(fleet) == {'web_back': 'RUNNING', 'web_front': 'RUNNING'}
    assert state_in_page(browser, 'web_front') == 'RUNNING'
    screenshot(browser, artifacts, 'browser_application_started.png')
    # stop
    click_action(browser, 'Stop the application')
    eventually(browser, lambda d: f'Application {APPLICATION} stopped' in message_of(d)[1],
               'the message of the stop action')
    assert message_of(browser)[0] == 'info'
    assert application_state(fleet) == 'STOPPED'
    assert set(process_states(fleet).values()) == {'STOPPED'}
    screenshot(browser, artifacts, 'browser_application_stopped.png')
    assert not script_errors(browser)


def test_live_update(browser, fleet, artifacts):
    """ A change made elsewhere (XML-RPC) shows in the open page without reloading it. """
    ensure_stopped(fleet)
    proxy = fleet['s1'].rpc()
    assert proxy.supvisors.start_application('CONFIG', APPLICATION, True)
    wait_for(lambda: application_state(fleet) == 'RUNNING', timeout=20, what='the application RUNNING')
    open_application_page(browser, fleet)
    eventually(browser, lambda d: state_in_page(d, 'web_front') == 'RUNNING', 'web_front RUNNING in the page')
    assert 'auto=' not in browser.current_url  # no meta refresh: only the page script can update it
    browser.execute_script('window.supvisorsSamePage = true;')
    assert proxy.supvisors.stop_process(f'{APPLICATION}:web_front', True)
    eventually(browser, lambda d: state_in_page(d, 'web_front') == 'STOPPED', 'web_front STOPPED in the page')
    assert browser.execute_script('return window.supvisorsSamePage === true'), 'the page was reloaded'
    assert state_in_page(browser, 'web_back') == 'RUNNING'
    screenshot(browser, artifacts, 'browser_live_update.png')
    assert not script_errors(browser)


def test_without_javascript(fleet, tmp_path):
    """ Without the page script, an action link shows a confirmation form whose POST performs the action. """
    from selenium.webdriver.common.by import By
    ensure_stopped(fleet)
    driver = make_driver(str(tmp_path / 'chromium'), javascript=False)
    try:
        open_application_page(driver, fleet)
        click_action(driver, 'Start the application')
        eventually(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#message form.confirm'),
                   'the confirmation form')
        gravity, text = message_of(driver)
        assert gravity == 'warn' and 'Confirm the action startapp?' in text, (gravity, text)
        assert application_state(fleet) == 'STOPPED', 'a GET must not perform the action'
        driver.find_element(By.CSS_SELECTOR, '#message form.confirm button').click()
        eventually(driver, lambda d: f'Application {APPLICATION} started' in message_of(d)[1],
                   'the message of the confirmed start action')
        assert application_state(fleet) == 'RUNNING'
    finally:
        driver.quit()
    ensure_stopped(fleet)
