// The card field (Stripe Elements) and the bank's 3-D Secure check. Card data goes to Stripe only.
(function () {
  "use strict";

  function show(errors, message) {
    errors.textContent = message || "";
  }

  // The page's own words for a failed card step (data-* of the error element, in the page's
  // language): Stripe's messages are written in English for developers.
  function plain(errors, error) {
    var text = ((error && error.code) || "") + " " + ((error && error.message) || "");
    if (/authenticat|3d ?secure/i.test(text)) {
      return errors.dataset.authFailed;
    }
    if (/declined/i.test(text) && errors.dataset.declined) {
      return errors.dataset.declined;
    }
    return errors.dataset.cardRefused || errors.dataset.authFailed;
  }

  var payForm = document.getElementById("pay-form");
  if (payForm) {
    var stripe = Stripe(payForm.dataset.publishableKey);
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    var errors = document.getElementById("card-errors");
    var button = document.getElementById("pay-button");
    payForm.addEventListener("submit", function (event) {
      if (payForm.elements.setup_intent.value) {
        return;
      }
      event.preventDefault();
      button.disabled = true;
      show(errors, "");
      stripe
        .confirmCardSetup(payForm.dataset.clientSecret, { payment_method: { card: card } })
        .then(function (result) {
          if (result.error) {
            show(errors, plain(errors, result.error));
            button.disabled = false;
            return;
          }
          payForm.elements.setup_intent.value = result.setupIntent.id;
          payForm.submit();
        });
    });
  }

  var authForm = document.getElementById("auth-form");
  if (authForm) {
    var authStripe = Stripe(authForm.dataset.publishableKey);
    var authButton = document.getElementById("auth-button");
    var authErrors = document.getElementById("card-errors");
    authForm.addEventListener("submit", function (event) {
      if (authForm.dataset.done) {
        return;
      }
      event.preventDefault();
      authButton.disabled = true;
      authStripe.confirmCardPayment(authForm.dataset.clientSecret).then(function (result) {
        if (result.error) {
          show(authErrors, authErrors.dataset.authFailed);
        }
        // Either way the server asks Stripe how the payment stands.
        authForm.dataset.done = "1";
        authForm.submit();
      });
    });
  }
})();
